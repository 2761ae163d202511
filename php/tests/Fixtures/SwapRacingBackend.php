<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Entity;
use EventSrv\Internal\Backend;
use EventSrv\Testing\InMemoryBackend;

/**
 * An InMemoryBackend that runs $beforeFirstSwap just before the first commit holding a 'swap'
 * change: what a live worker committing between the rebuild's last look and its swap does.
 */
final class SwapRacingBackend implements Backend
{
    /** @var (\Closure(): void)|null */
    public ?\Closure $beforeFirstSwap = null;

    public function __construct(private readonly InMemoryBackend $inner)
    {
    }

    public function commit(array $changes, array $checkpoints, ?int $projectedPosition): array
    {
        foreach ($changes as $change) {
            if ($change[0] === 'swap' && $this->beforeFirstSwap !== null) {
                $race = $this->beforeFirstSwap;
                $this->beforeFirstSwap = null;
                $race();
                break;
            }
        }
        return $this->inner->commit($changes, $checkpoints, $projectedPosition);
    }

    public function find(string $class, string $uuid): ?Entity
    {
        return $this->inner->find($class, $uuid);
    }

    public function all(string $class): array
    {
        return $this->inner->all($class);
    }

    public function count(string $class): int
    {
        return $this->inner->count($class);
    }

    public function streamVersion(string $stream): int
    {
        return $this->inner->streamVersion($stream);
    }

    public function streamEvents(string $stream, int $afterVersion = 0): array
    {
        return $this->inner->streamEvents($stream, $afterVersion);
    }

    public function eventsAfter(int $position, int $limit): array
    {
        return $this->inner->eventsAfter($position, $limit);
    }

    public function waitForEvents(int $afterPosition, int $timeoutMs): int
    {
        return $this->inner->waitForEvents($afterPosition, $timeoutMs);
    }

    public function waitForProjection(int $position, int $timeoutMs): bool
    {
        return $this->inner->waitForProjection($position, $timeoutMs);
    }

    public function positions(): array
    {
        return $this->inner->positions();
    }

    public function checkpoint(string $name): int
    {
        return $this->inner->checkpoint($name);
    }

    public function checkpoints(): array
    {
        return $this->inner->checkpoints();
    }

    public function append(string $stream, int $expectedVersion, array $events, array $metadata): array
    {
        return $this->inner->append($stream, $expectedVersion, $events, $metadata);
    }

    public function attachWorker(): void
    {
        $this->inner->attachWorker();
    }

    public function registerEventTypes(array $classToType): void
    {
        $this->inner->registerEventTypes($classToType);
    }

    public function persistWaitMs(): int
    {
        return $this->inner->persistWaitMs();
    }
}
