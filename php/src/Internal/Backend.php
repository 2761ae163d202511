<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\Event;

/**
 * The seam between the userland and the native API (docs/extension.md): NativeBackend forwards
 * each call to \EventSrv\Native, EventSrv\Testing\InMemoryBackend fakes it for tests. Method for
 * method the same contract as Native.
 *
 * @internal
 */
interface Backend extends EntityReader
{
    public function streamVersion(string $stream): int;

    /** @return list<Event> */
    public function streamEvents(string $stream, int $afterVersion = 0): array;

    /** @return list<Event> */
    public function eventsAfter(int $position, int $limit): array;

    /** Blocks until the committed position passes $afterPosition or the timeout ends. */
    public function waitForEvents(int $afterPosition, int $timeoutMs): int;

    public function waitForProjection(int $position, int $timeoutMs): bool;

    /**
     * @return array{committed: int, projected: int, generation: int, workers: int,
     *     daemon_pid: int, state: string}
     */
    public function positions(): array;

    public function checkpoint(string $name): int;

    /** @return array<string, int> */
    public function checkpoints(): array;

    /**
     * @param list<Event> $events
     * @param list<array<string, mixed>> $metadata one per event
     * @return array{first_position: int, last_position: int, version: int}
     *     |array{conflict: true, expected: int, actual: int}
     */
    public function append(string $stream, int $expectedVersion, array $events, array $metadata): array;

    /**
     * @param list<array<int, mixed>> $changes
     * @param list<array{0: string, 1: int, 2: int}> $checkpoints
     * @return array{position: int}|array{checkpoint_conflict: true, name: string, expected: int, actual: int}
     */
    public function commit(array $changes, array $checkpoints, ?int $projectedPosition): array;

    public function attachWorker(): void;

    /** @param array<class-string<Event>, string> $classToType */
    public function registerEventTypes(array $classToType): void;

    /** How long persist() waits for projections (eventsrv.persist_wait_ms); 0: no wait. */
    public function persistWaitMs(): int;
}
