<?php

declare(strict_types=1);

namespace EventSrv\Laravel;

use EventSrv\Projector;
use EventSrv\Reactor;
use EventSrv\Worker;
use EventSrv\WorkerOptions;
use Illuminate\Contracts\Container\Container;

/**
 * The app's projectors and reactors: the configured lists plus the discovered classes, each
 * built once by the container. The worker commands and the status command share it.
 */
final class HandlerRegistry
{
    /** @var list<Projector>|null */
    private ?array $projectors = null;

    /** @var list<Reactor>|null */
    private ?array $reactors = null;

    /**
     * @param list<class-string> $projectorClasses
     * @param list<class-string> $reactorClasses
     * @param array<string, string> $discover path => namespace
     */
    public function __construct(
        private readonly Container $container,
        private readonly array $projectorClasses,
        private readonly array $reactorClasses,
        private readonly array $discover,
    ) {
    }

    /** @return list<Projector> */
    public function projectors(): array
    {
        $this->resolve();
        return $this->projectors;
    }

    /** @return list<Reactor> */
    public function reactors(): array
    {
        $this->resolve();
        return $this->reactors;
    }

    /** @param (callable(string): void)|null $log */
    public function worker(WorkerOptions $options, ?callable $log = null): Worker
    {
        return new Worker($this->projectors(), $this->reactors(), $options, $log);
    }

    private function resolve(): void
    {
        if ($this->projectors !== null) {
            return;
        }
        $discovered = HandlerDiscovery::within($this->discover);
        $this->projectors = $this->instances(
            array_merge($this->projectorClasses, array_filter($discovered, static fn (string $class): bool => is_subclass_of($class, Projector::class))),
            Projector::class,
        );
        $this->reactors = $this->instances(
            array_merge($this->reactorClasses, array_filter($discovered, static fn (string $class): bool => is_subclass_of($class, Reactor::class))),
            Reactor::class,
        );
    }

    /**
     * @param array<class-string> $classes
     * @return list<object>
     */
    private function instances(array $classes, string $kind): array
    {
        $instances = [];
        foreach (array_unique(array_map(static fn (string $class): string => ltrim($class, '\\'), $classes)) as $class) {
            $instance = $this->container->make($class);
            if (!$instance instanceof $kind) {
                throw new \InvalidArgumentException("eventsrv: $class is listed as a " . strtolower(substr($kind, 9)) . " but does not extend $kind");
            }
            $instances[] = $instance;
        }
        return $instances;
    }
}
