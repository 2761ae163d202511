<?php

declare(strict_types=1);

namespace EventSrv\Symfony;

use EventSrv\Projector;
use EventSrv\Reactor;
use EventSrv\Worker;
use EventSrv\WorkerOptions;

/**
 * The app's projectors and reactors (the services tagged eventsrv.projector / eventsrv.reactor)
 * ; builds the Worker for the console commands and the status page.
 */
final class Handlers
{
    /**
     * @param iterable<Projector> $projectors
     * @param iterable<Reactor> $reactors
     */
    public function __construct(
        private readonly iterable $projectors,
        private readonly iterable $reactors,
    ) {
    }

    /** @return list<Projector> */
    public function projectors(): array
    {
        return self::listOf($this->projectors);
    }

    /** @return list<Reactor> */
    public function reactors(): array
    {
        return self::listOf($this->reactors);
    }

    /** @param (callable(string): void)|null $log */
    public function worker(WorkerOptions $options, ?callable $log = null): Worker
    {
        return new Worker($this->projectors(), $this->reactors(), $options, $log);
    }

    /**
     * @template T
     * @param iterable<T> $items
     * @return list<T>
     */
    private static function listOf(iterable $items): array
    {
        return \is_array($items) ? array_values($items) : iterator_to_array($items, false);
    }
}
