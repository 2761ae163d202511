<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Console;

use EventSrv\EventHandler;
use EventSrv\Native;

/**
 * What an operator asks first: is the daemon up, how far are the projections behind, which
 * projector or reactor is stuck. Read from shared memory (positions, checkpoints) and, when the
 * daemon answers, from its status report; never writes.
 *
 * Framework-neutral (Laravel's artisan and Symfony's console both use it, as do the example
 * apps' status pages): it lives beside the Symfony Console helpers because both consoles are
 * built on symfony/console.
 */
final class StatusReport
{
    /**
     * @param array<string, mixed> $positions Native::positions()
     * @param list<array{name: string, kind: string, checkpoint: int|null, lag: int|null, status: string}> $handlers
     */
    private function __construct(
        public readonly array $positions,
        public readonly array $handlers,
        public readonly string $connection,
        public readonly bool $daemonAnswers,
    ) {
    }

    /**
     * @param iterable<EventHandler> $projectors
     * @param iterable<EventHandler> $reactors
     */
    public static function collect(iterable $projectors, iterable $reactors): self
    {
        $positions = Native::positions();
        $checkpoints = Native::checkpoints();
        $committed = (int) $positions['committed'];
        $handlers = [];
        $known = [];
        foreach (['projector' => $projectors, 'reactor' => $reactors] as $kind => $list) {
            foreach ($list as $handler) {
                $name = $handler->name();
                $known[$name] = true;
                $handlers[] = self::row($name, $kind, $checkpoints[$name] ?? null, $committed, (int) $positions['workers']);
            }
        }
        foreach ($checkpoints as $name => $position) {
            if (!isset($known[$name])) {
                // A checkpoint no configured class owns: a renamed or removed projector, or another app's.
                $handlers[] = self::row((string) $name, 'unconfigured', (int) $position, $committed, (int) $positions['workers']);
            }
        }
        $answers = self::daemonAnswers(); // before connectionState(): ping connects
        return new self($positions, $handlers, Native::connectionState(), $answers);
    }

    /** Positions behind the committed head that the slowest projection still has to process. */
    public function lag(): int
    {
        return max(0, (int) $this->positions['committed'] - (int) $this->positions['projected']);
    }

    /** @return array<string, mixed> the shape of `eventsrv:status --json` and of the status pages' JSON */
    public function toArray(): array
    {
        return [
            'daemon' => $this->daemonAnswers ? 'running' : 'not answering',
            'daemon_pid' => $this->positions['daemon_pid'],
            'region_state' => $this->positions['state'],
            'committed' => $this->positions['committed'],
            'projected' => $this->positions['projected'],
            'lag' => $this->lag(),
            'workers' => $this->positions['workers'],
            'connection' => $this->connection,
            'handlers' => $this->handlers,
        ];
    }

    /** @return array{name: string, kind: string, checkpoint: int|null, lag: int|null, status: string} */
    private static function row(string $name, string $kind, ?int $checkpoint, int $committed, int $workers): array
    {
        $lag = $checkpoint === null ? null : max(0, $committed - $checkpoint);
        $status = match (true) {
            $checkpoint === null && $kind === 'reactor' => 'new: starts at the head when a worker runs',
            $checkpoint === null => 'not started: no worker has run it yet',
            $kind === 'unconfigured' => 'not configured in this app',
            $lag === 0 => 'up to date',
            $workers === 0 => "behind by $lag: no worker attached",
            default => "catching up: $lag behind",
        };
        return ['name' => $name, 'kind' => $kind, 'checkpoint' => $checkpoint, 'lag' => $lag, 'status' => $status];
    }

    private static function daemonAnswers(): bool
    {
        try {
            return Native::ping();
        } catch (\Throwable) {
            return false;
        }
    }
}
