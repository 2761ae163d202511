<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\Entity;
use EventSrv\Native;

/**
 * The real backend: every method is one call into the eventsrv extension. Kept deliberately thin.
 * (Entity reads skip even this object: see Entity::find().)
 *
 * @internal
 */
final class NativeBackend implements Backend
{
    public function find(string $class, string $uuid): ?Entity
    {
        return Native::find($class, $uuid);
    }

    public function all(string $class): array
    {
        return Native::all($class);
    }

    public function count(string $class): int
    {
        return Native::count($class);
    }

    public function streamVersion(string $stream): int
    {
        return Native::streamVersion($stream);
    }

    public function streamEvents(string $stream, int $afterVersion = 0): array
    {
        return Native::streamEvents($stream, $afterVersion);
    }

    public function eventsAfter(int $position, int $limit): array
    {
        return Native::eventsAfter($position, $limit);
    }

    public function waitForEvents(int $afterPosition, int $timeoutMs): int
    {
        return Native::waitForEvents($afterPosition, $timeoutMs);
    }

    public function waitForProjection(int $position, int $timeoutMs): bool
    {
        return Native::waitForProjection($position, $timeoutMs);
    }

    public function positions(): array
    {
        return Native::positions();
    }

    public function checkpoint(string $name): int
    {
        return Native::checkpoint($name);
    }

    public function checkpoints(): array
    {
        return Native::checkpoints();
    }

    public function append(string $stream, int $expectedVersion, array $events, array $metadata): array
    {
        return Native::append($stream, $expectedVersion, $events, $metadata);
    }

    public function commit(array $changes, array $checkpoints, ?int $projectedPosition): array
    {
        return Native::commit($changes, $checkpoints, $projectedPosition);
    }

    public function attachWorker(): void
    {
        Native::attachWorker();
    }

    public function registerEventTypes(array $classToType): void
    {
        Native::registerEventTypes($classToType);
    }

    public function persistWaitMs(): int
    {
        return (int) ini_get('eventsrv.persist_wait_ms');
    }
}
