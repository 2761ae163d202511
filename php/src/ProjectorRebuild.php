<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\Overlay;
use EventSrv\Internal\Runtime;

/**
 * Rebuilds one projector's projection beside the live one, then swaps it in atomically
 * (docs/php.md, "Rebuilding beside the live projection").
 *
 * The projector's handlers run from the first event with their entities() classes stored as
 * shadow classes (`EventSrv\Rebuild\<Class>`, a class_alias of the entity class), in batches,
 * each batch committed with the rebuild's own checkpoint (`<name> (rebuild)`) and a
 * `rebuilding` status: memory stays bounded by the batch size, whatever the log size. The live
 * projection keeps serving and the live worker keeps projecting meanwhile. Once the rebuild has
 * read up to the head and is at or past the live checkpoint, ONE commit swaps every class with its
 * shadow, moves the live checkpoint to the rebuild's position (compare-and-set against the value
 * just read) and drops the rebuild checkpoint and status. Readers see the old projection or the
 * new one, never a half-built one. If the live worker moved its checkpoint meanwhile the swap is
 * refused as a whole; the rebuild catches up and tries again. The live worker's next commit then
 * meets a checkpoint conflict, reloads the checkpoints and redoes its batch on the new entities.
 *
 * Must never: write to a live class before the swap, or hold more than one batch of events.
 */
final class ProjectorRebuild
{
    public const SHADOW_NAMESPACE = 'EventSrv\\Rebuild\\';

    /** Swap attempts refused because the live worker moved, before the rebuild gives up. */
    private const SWAP_ATTEMPTS_MAX = 100;

    /**
     * @param \Closure(string): void $log
     * @param (\Closure(ProjectorRebuildProgress): void)|null $progress called after every committed batch
     * @param \Closure(): bool $stopRequested checked between batches
     */
    public function __construct(
        private readonly string $name,
        private readonly Projector $projector,
        private readonly int $batchSize,
        private readonly \Closure $log,
        private readonly ?\Closure $progress,
        private readonly \Closure $stopRequested,
    ) {
    }

    /** The region class a rebuild stores `$class`'s entities in until the swap. */
    public static function shadowClass(string $class): string
    {
        return self::SHADOW_NAMESPACE . ltrim($class, '\\');
    }

    public static function checkpointName(string $projectorName): string
    {
        return $projectorName . ProjectorStatus::REBUILD_SUFFIX;
    }

    /**
     * @return int events processed; the projection is swapped in unless a stop was requested
     *             (then the live projection is untouched and the shadow is left for the next run)
     */
    public function run(): int
    {
        $backend = Runtime::backend();
        $shadows = [];
        foreach ($this->projector->entities() as $class) {
            $shadow = self::shadowClass($class);
            if (!class_exists($shadow, false)) {
                class_alias($class, $shadow); // the extension hydrates shadow entities as $class
            }
            $shadows[$class] = $shadow;
        }
        $checkpoint = self::checkpointName($this->name);
        $head = $backend->positions()['committed'];
        $started = microtime(true);

        $changes = [];
        foreach ($shadows as $shadow) {
            $changes[] = ['reset', $shadow];
        }
        $changes[] = $this->statusChange(0, $head);
        $this->commitOrThrow($changes, [[$checkpoint, $backend->checkpoint($checkpoint), 0]], 'start');
        $this->log(sprintf(
            'rebuild %s: started beside the live projection (%s), head at #%d',
            $this->name,
            $shadows === [] ? 'no entity classes' : implode(', ', array_keys($shadows)),
            $head,
        ));

        $at = 0;
        $processed = 0;
        $refused = 0;
        while (true) {
            if (($this->stopRequested)()) {
                $this->log("rebuild {$this->name}: interrupted at #$at; the live projection is untouched");
                return $processed;
            }
            $events = $backend->eventsAfter($at, $this->batchSize);
            if ($events !== []) {
                $last = $this->projectBatch($events, $shadows, $checkpoint, $at, max($head, $at));
                $processed += \count($events);
                $at = $last;
                $head = max($head, $at);
                if ($this->progress !== null) {
                    $elapsed = microtime(true) - $started;
                    ($this->progress)(new ProjectorRebuildProgress($this->name, $at, $head, $processed, $elapsed));
                }
                continue;
            }
            $live = $backend->checkpoint($this->name);
            if ($live > $at) {
                continue; // the live projection is ahead: there are events to catch up on
            }
            if ($this->swap($shadows, $checkpoint, $live, $at)) {
                $this->log(sprintf(
                    'rebuild %s: swapped in at #%d after %d event(s) in %.1f s; the old entities are garbage now',
                    $this->name,
                    $at,
                    $processed,
                    microtime(true) - $started,
                ));
                return $processed;
            }
            if (++$refused >= self::SWAP_ATTEMPTS_MAX) {
                throw new EventSrvException(sprintf(
                    'rebuild %s: gave up after %d swaps refused because the live checkpoint kept moving',
                    $this->name,
                    $refused,
                ));
            }
        }
    }

    /**
     * @param non-empty-list<Event> $events
     * @param array<string, string> $shadows
     * @return int the position of the last event
     */
    private function projectBatch(array $events, array $shadows, string $checkpoint, int $from, int $target): int
    {
        $overlay = new Overlay(Runtime::backend(), $shadows);
        $projector = $this->projector;
        Runtime::beginProjecting($overlay);
        try {
            foreach ($events as $event) {
                $overlay->position = $event->meta()->position();
                Context::handling($event, static fn (): bool => $projector->handle($event));
            }
        } finally {
            Runtime::endProjecting();
        }
        $last = $overlay->position;
        $changes = $overlay->changes();
        $changes[] = $this->statusChange($last, max($target, $last));
        $this->commitOrThrow($changes, [[$checkpoint, $from, $last]], "batch after #$from");
        return $last;
    }

    /** @param array<string, string> $shadows */
    private function swap(array $shadows, string $checkpoint, int $live, int $at): bool
    {
        $backend = Runtime::backend();
        $changes = [];
        foreach ($shadows as $class => $shadow) {
            $changes[] = ['swap', $class, $shadow];
        }
        $changes[] = ['delete', ProjectorStatus::class, $checkpoint];
        $status = $backend->find(ProjectorStatus::class, $this->name);
        if ($status instanceof ProjectorStatus && $status->status === ProjectorStatus::FAILED) {
            // the rebuilt projection went through every event, the failing one included
            $active = ProjectorStatus::named($this->name, ProjectorStatus::ACTIVE);
            $changes[] = ['upsert', ProjectorStatus::class, $this->name, $active, $at];
        }
        $result = $backend->commit($changes, [[$this->name, $live, $at], [$checkpoint, $at, 0]], null);
        if (!empty($result['checkpoint_conflict'])) {
            $this->log(sprintf(
                'rebuild %s: swap refused, checkpoint %s moved (expected %d, found %d); catching up',
                $this->name,
                $result['name'],
                $result['expected'],
                $result['actual'],
            ));
            return false;
        }
        return true;
    }

    /** @return array<int, mixed> */
    private function statusChange(int $position, int $target): array
    {
        $name = self::checkpointName($this->name);
        $status = ProjectorStatus::named($name, ProjectorStatus::REBUILDING);
        $status->position = $position;
        $status->target = $target;
        return ['upsert', ProjectorStatus::class, $name, $status, $position];
    }

    /**
     * @param list<array<int, mixed>> $changes
     * @param list<array{string, int, int}> $moves
     */
    private function commitOrThrow(array $changes, array $moves, string $what): void
    {
        $result = Runtime::backend()->commit($changes, $moves, null);
        if (!empty($result['checkpoint_conflict'])) {
            throw new EventSrvException(sprintf(
                'rebuild %s: %s refused, checkpoint %s moved (expected %d, found %d): '
                . 'is another rebuild of it running?',
                $this->name,
                $what,
                $result['name'],
                $result['expected'],
                $result['actual'],
            ));
        }
    }

    private function log(string $line): void
    {
        ($this->log)($line);
    }
}
