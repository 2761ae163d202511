<?php

declare(strict_types=1);

namespace EventSrv\Status;

use EventSrv\EventHandler;
use EventSrv\Internal\Runtime;
use EventSrv\Native;
use EventSrv\ProjectorRebuild;
use EventSrv\ProjectorStatuses;

/**
 * What an operator asks first: is the daemon up, how far are the projections behind, which
 * projector or reactor is failed, paused or rebuilding, and where it failed. Read from the state
 * region (positions, checkpoints, ProjectorStatus entities) and, when the daemon answers, from its
 * status report; never writes.
 *
 * Framework-neutral: artisan's and Symfony's `eventsrv:status` print it (StatusTable), the
 * example apps' status pages render toArray().
 */
final class StatusReport
{
    /**
     * @param array<string, mixed> $positions Native::positions()
     * @param list<HandlerStatus> $handlers
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
        $backend = Runtime::backend();
        $positions = $backend->positions();
        $checkpoints = $backend->checkpoints();
        $statuses = new ProjectorStatuses();
        $statuses->reload();
        $committed = (int) $positions['committed'];
        $workers = (int) $positions['workers'];
        $line = static fn (string $name, string $kind, ?int $checkpoint): HandlerStatus => HandlerStatus::of(
            $name,
            $kind,
            $checkpoint,
            $committed,
            $workers,
            $statuses->isStored($name) ? $statuses->of($name) : null,
            $statuses->isStored(ProjectorRebuild::checkpointName($name))
                ? $statuses->of(ProjectorRebuild::checkpointName($name))
                : null,
        );
        $handlers = [];
        $known = [];
        foreach ([HandlerStatus::PROJECTOR => $projectors, HandlerStatus::REACTOR => $reactors] as $kind => $list) {
            foreach ($list as $handler) {
                $name = $handler->name();
                $known[$name] = true;
                $known[ProjectorRebuild::checkpointName($name)] = true; // shown on the projector's line
                $handlers[] = $line($name, $kind, isset($checkpoints[$name]) ? (int) $checkpoints[$name] : null);
            }
        }
        foreach ($checkpoints as $name => $position) {
            if (!isset($known[(string) $name])) {
                $handlers[] = $line((string) $name, HandlerStatus::UNCONFIGURED, (int) $position);
            }
        }
        [$answers, $connection] = self::askDaemon();
        return new self($positions, $handlers, $connection, $answers);
    }

    /** Positions behind the committed head that the slowest projection still has to process. */
    public function lag(): int
    {
        return max(0, (int) $this->positions['committed'] - (int) $this->positions['projected']);
    }

    /** The line of one projector or reactor by its name, or null when the report has none. */
    public function handler(string $name): ?HandlerStatus
    {
        foreach ($this->handlers as $handler) {
            if ($handler->name === $name) {
                return $handler;
            }
        }
        return null;
    }

    /** @return list<HandlerStatus> the failed projectors: what an operator has to look at */
    public function failed(): array
    {
        return array_values(array_filter($this->handlers, static fn (HandlerStatus $h): bool => $h->isFailed()));
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
            'failed' => \count($this->failed()),
            'handlers' => array_map(static fn (HandlerStatus $handler): array => $handler->toArray(), $this->handlers),
        ];
    }

    /**
     * Whether the daemon answers a ping, and how this process is connected. With a backend
     * installed in place of the extension (InMemoryBackend in tests) there is no daemon to ask.
     *
     * @return array{bool, string}
     */
    private static function askDaemon(): array
    {
        if (Runtime::installedBackend() !== null) {
            return [true, 'in-process backend ' . Runtime::installedBackend()::class];
        }
        try {
            $answers = Native::ping();
        } catch (\Throwable) {
            $answers = false;
        }
        return [$answers, Native::connectionState()]; // after ping(): ping connects
    }
}
