<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\Runtime;

/**
 * The projector statuses as the worker sees them (ProjectorStatus entities, read from the region
 * once per batch), and the operator's status changes (`--pause`, `--resume`, `--retry`): one
 * commit of the status entity, which running workers pick up at their next batch.
 *
 * Must never: change a checkpoint; a status change only decides whether a projector runs.
 */
final class ProjectorStatuses
{
    /** @var array<string, ProjectorStatus> by projector name; none stored: active */
    private array $byName = [];

    public function reload(): void
    {
        $this->byName = [];
        foreach (Runtime::backend()->all(ProjectorStatus::class) as $status) {
            if ($status instanceof ProjectorStatus) {
                $this->byName[$status->uuid] = $status;
            }
        }
    }

    public function of(string $projectorName): ProjectorStatus
    {
        return $this->byName[$projectorName] ?? ProjectorStatus::named($projectorName, ProjectorStatus::ACTIVE);
    }

    /** Whether a status entity is stored for the handler (it was started before). */
    public function isStored(string $projectorName): bool
    {
        return isset($this->byName[$projectorName]);
    }

    /** Whether the worker runs the projector (neither failed nor paused). */
    public function runs(string $projectorName): bool
    {
        return ($this->byName[$projectorName] ?? null)?->runs() ?? true;
    }

    /** Records a status this worker committed itself (until the next reload). */
    public function remember(ProjectorStatus $status): void
    {
        $this->byName[$status->uuid] = $status;
    }

    /**
     * Commits `$status` (active or paused) for the projector and says what changed. Retry and
     * resume both make it active: it resumes after its checkpoint (a failed one: at the failing
     * event).
     */
    public function set(string $projectorName, string $status): string
    {
        if (!\in_array($status, [ProjectorStatus::ACTIVE, ProjectorStatus::PAUSED], true)) {
            throw new \InvalidArgumentException("a projector can be set active or paused, not $status");
        }
        $this->reload();
        $before = $this->of($projectorName);
        $backend = Runtime::backend();
        $checkpoint = $backend->checkpoint($projectorName);
        $entity = ProjectorStatus::named($projectorName, $status);
        $change = ['upsert', ProjectorStatus::class, $projectorName, $entity, $checkpoint];
        $result = $backend->commit([$change], [], null);
        if (!empty($result['checkpoint_conflict'])) {
            throw new EventSrvException('status commit refused: ' . json_encode($result));
        }
        $this->remember($entity);
        return sprintf(
            'projector %s: %s -> %s (checkpoint %d)%s',
            $projectorName,
            $before->status,
            $status,
            $checkpoint,
            $before->status === ProjectorStatus::FAILED
                ? sprintf('; it failed on event #%d with %s: %s', $before->position, $before->exception, $before->error)
                : '',
        );
    }
}
