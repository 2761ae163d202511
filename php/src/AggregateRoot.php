<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\HandlerMap;
use EventSrv\Internal\NativeBackend;
use EventSrv\Internal\Runtime;

/**
 * An event-sourced aggregate: its state is rebuilt from its own stream of events, and commands
 * record new events. One stream per aggregate, named by its uuid.
 *
 *     AccountAggregateRoot::retrieve($uuid)->deposit(10)->persist();
 *
 * Each event is applied to the aggregate by a method apply<EventShortName>(TheEvent $event), if
 * the aggregate has one (public or protected), both when retrieving and when recording.
 * persist() appends with optimistic concurrency: if another request wrote to the stream since
 * retrieve(), nothing is written and a ConcurrencyException is thrown.
 *
 * snapshot() stores the whole state (all properties, any visibility) as a SnapshotTaken event in
 * the stream "<uuid>.snapshot"; retrieve() starts from the newest snapshot this class can use
 * (same class, same snapshotVersion(), every property still there and accepting its value) and
 * applies only the later events. Must never: load a snapshot it cannot verify; it falls back to
 * the full replay instead.
 */
abstract class AggregateRoot
{
    /** Nesting a snapshot value may have (the value codec's own limit is 64 levels). */
    private const SNAPSHOT_DEPTH_MAX = 60;

    private string $aggregateUuid = '';

    /** The stream version this object stands on: retrieved or last persisted. */
    private int $aggregateVersion = 0;

    /** @var list<Event> */
    private array $recordedEvents = [];

    /** @var list<array<string, mixed>> one per recorded event */
    private array $recordedMetadata = [];

    /**
     * aggregate class => event class => its apply methods (HandlerMap's answer): recording an
     * event, on every command's path, then costs a lookup instead of a call.
     *
     * @var array<class-string, array<class-string, list<string>>>
     */
    private static array $applyMethods = [];

    /** @var array<class-string, bool> aggregate class => whether it overrides snapshotEvery() */
    private static array $snapshotEveryOverridden = [];

    /** Subclasses may declare a constructor, but without required parameters. */
    protected function __construct()
    {
    }

    /**
     * Rebuilds the aggregate from its stream; an unknown uuid gives a new, empty aggregate.
     * With a usable snapshot (see snapshot()), from the snapshot and the events after it.
     */
    public static function retrieve(string $uuid): static
    {
        $aggregate = static::fromSnapshot($uuid);
        if ($aggregate === null) {
            $aggregate = new static();
            $aggregate->aggregateUuid = $uuid;
        }
        foreach (Runtime::backend()->streamEvents($uuid, $aggregate->aggregateVersion) as $event) {
            $aggregate->applyEvent($event);
            $aggregate->aggregateVersion = $event->isRecorded()
                ? $event->meta()->version()
                : $aggregate->aggregateVersion + 1;
        }
        return $aggregate;
    }

    /**
     * Stores the aggregate's whole state (every initialized property of every class below
     * AggregateRoot, whatever its visibility) at its current version, so that retrieve() starts
     * from it. One durable append to the stream "<uuid>.snapshot"; nothing happens for a new
     * aggregate (version 0).
     *
     * @throws StateException events are recorded and not persisted: the state is not a stored version's
     * @throws SerializationException a property holds a Closure, resource, generator or anonymous class
     */
    public function snapshot(): static
    {
        if ($this->recordedEvents !== []) {
            throw new StateException(sprintf(
                '%s %s has %d unpersisted event(s): persist() before snapshot(), so that the snapshot '
                . 'is the state at a stored version',
                static::class,
                $this->aggregateUuid,
                \count($this->recordedEvents),
            ));
        }
        if ($this->aggregateVersion === 0) {
            return $this;
        }
        $state = [];
        foreach (self::snapshotProperties(static::class) as $property) {
            if (!$property->isInitialized($this)) {
                continue;
            }
            $value = $property->getValue($this);
            self::assertStorable(
                $value,
                $property->getDeclaringClass()->getName() . '::$' . $property->getName(),
            );
            $state[] = [$property->getDeclaringClass()->getName(), $property->getName(), $value];
        }
        $snapshot = new SnapshotTaken(static::class, $this->aggregateVersion, $this->snapshotVersion(), $state);
        Runtime::backend()->append(
            $this->aggregateUuid . SnapshotTaken::STREAM_SUFFIX,
            -1,
            [$snapshot],
            [Context::metadataForNewEvent()],
        );
        return $this;
    }

    /**
     * Take a snapshot in persist() each time the version passes a multiple of this (0: never).
     */
    protected function snapshotEvery(): int
    {
        return 0;
    }

    /**
     * The shape of this class's state. Bump it when a property is renamed or changes meaning:
     * snapshots of another version are ignored (the aggregate is rebuilt from all its events).
     */
    protected function snapshotVersion(): int
    {
        return 1;
    }

    /** Alias of retrieve(). */
    public static function find(string $uuid): static
    {
        return static::retrieve($uuid);
    }

    /**
     * A test scenario for this aggregate that needs no daemon:
     *
     *     AccountAggregateRoot::fake($uuid)
     *         ->given([new AccountCreated('Ada')])
     *         ->when(fn (AccountAggregateRoot $account) => $account->increaseBalance(10))
     *         ->assertRecorded(new BalanceIncreased(10));
     */
    public static function fake(?string $uuid = null): Testing\AggregateScenario
    {
        return new Testing\AggregateScenario(static::class, $uuid ?? Uuid::v7());
    }

    /** A new aggregate with a fresh UUIDv7. */
    public static function new(): static
    {
        $aggregate = new static();
        $aggregate->aggregateUuid = Uuid::v7();
        return $aggregate;
    }

    public function uuid(): string
    {
        return $this->aggregateUuid;
    }

    /** The version of the stream this object was retrieved at or last persisted (0: new). */
    public function version(): int
    {
        return $this->aggregateVersion;
    }

    /** @return list<Event> events recorded and not yet persisted */
    public function recordedEvents(): array
    {
        return $this->recordedEvents;
    }

    /**
     * Appends the recorded events to the stream, expecting it still at version(). Then waits
     * (eventsrv.persist_wait_ms, bounded) until the projections have caught up with them, so the
     * next request reads its own writes; a timeout is not an error: the events are stored.
     *
     * @throws ConcurrencyException another request wrote to the stream first; nothing was written
     */
    public function persist(): static
    {
        if ($this->recordedEvents === []) {
            return $this;
        }
        $backend = Runtime::backend();
        // The native backend's calls go straight to the extension: one PHP call fewer each.
        $native = $backend instanceof NativeBackend;
        $correlationId = null;
        $metadata = [];
        // Events of one command mostly share their class and their Context metadata (often the
        // very same array): each is looked up and extended once per persist(), not per event.
        $class = $eventVersion = $given = $extended = null;
        foreach ($this->recordedEvents as $i => $event) {
            if ($event::class !== $class) {
                $class = $event::class;
                $eventVersion = EventTypes::$versionsToWrite[$class] ?? EventTypes::versionToWrite($class);
                $given = null;
            }
            if ($this->recordedMetadata[$i] !== $given) {
                $given = $this->recordedMetadata[$i];
                if (isset($given[EventMeta::CORRELATION_ID])) {
                    $extended = $given;
                } else {
                    $correlationId ??= $native ? Native::uuidV7() : Uuid::v7();
                    $extended = [EventMeta::CORRELATION_ID => $correlationId] + $given;
                }
                if ($eventVersion !== 1) {
                    $extended[EventMeta::EVENT_VERSION] = $eventVersion;
                }
            }
            $metadata[] = $extended;
        }

        $result = $native
            ? Native::append($this->aggregateUuid, $this->aggregateVersion, $this->recordedEvents, $metadata)
            : $backend->append($this->aggregateUuid, $this->aggregateVersion, $this->recordedEvents, $metadata);

        if (!empty($result['conflict'])) {
            // These events can never be appended on top of this state: drop them, so that the
            // exception is the only report (not also the unpersisted-events warning).
            $this->recordedEvents = [];
            $this->recordedMetadata = [];
            throw new ConcurrencyException(
                static::class,
                $this->aggregateUuid,
                (int) $result['expected'],
                (int) $result['actual'],
            );
        }
        $before = $this->aggregateVersion;
        $this->aggregateVersion = (int) $result['version'];
        $this->recordedEvents = [];
        $this->recordedMetadata = [];
        // snapshotEvery() is called only where a class overrides it (the default is 0: never).
        $every = (self::$snapshotEveryOverridden[static::class] ??= self::overridesSnapshotEvery())
            ? $this->snapshotEvery()
            : 0;
        if ($every > 0 && intdiv($this->aggregateVersion, $every) > intdiv($before, $every)) {
            $this->snapshot();
        }

        // The worker itself is the projector: waiting for it from inside would only stall it.
        // No worker attached (append() says so): nothing to wait for, not even the ini setting.
        $workers = $result['workers'] ?? null;
        if (!Runtime::$inWorker && $workers !== 0) {
            $waitMs = $backend->persistWaitMs();
            if ($waitMs > 0 && ($workers ?? $backend->positions()['workers']) > 0) {
                $backend->waitForProjection((int) $result['last_position'], $waitMs);
            }
        }
        return $this;
    }

    /** Records an event and applies it to this aggregate. */
    protected function event(Event $event): static
    {
        // applyEvent() and Context::metadataForNewEvent() inlined: calls are most of the cost.
        $methods = self::$applyMethods[static::class][$event::class]
            ??= HandlerMap::methodsFor(static::class, $event::class, 'apply', false, [self::class]);
        foreach ($methods as $method) {
            $this->{$method}($event);
        }
        $this->recordedEvents[] = $event;
        $this->recordedMetadata[] = Context::$newEventMetadata ?? Context::metadataForNewEvent();
        return $this;
    }

    /** Alias of event(). */
    protected function recordThat(Event $event): static
    {
        return $this->event($event);
    }

    public function __destruct()
    {
        if ($this->recordedEvents !== []) {
            trigger_error(sprintf(
                '%s %s was destroyed with %d unpersisted event(s) (%s): call persist() or they are lost',
                static::class,
                $this->aggregateUuid,
                \count($this->recordedEvents),
                implode(', ', array_map(static fn (Event $event): string => $event::class, $this->recordedEvents)),
            ), E_USER_WARNING);
        }
    }

    private static function overridesSnapshotEvery(): bool
    {
        return (new \ReflectionMethod(static::class, 'snapshotEvery'))->getDeclaringClass()->getName() !== self::class;
    }

    /** The aggregate from its newest snapshot, or null when there is none this class can use. */
    private static function fromSnapshot(string $uuid): ?static
    {
        $backend = Runtime::backend();
        $stream = $uuid . SnapshotTaken::STREAM_SUFFIX;
        $count = $backend->streamVersion($stream);
        if ($count === 0) {
            return null;
        }
        try {
            $snapshot = $backend->streamEvents($stream, $count - 1)[0] ?? null;
        } catch (SerializationException | UnknownEventTypeException) {
            return null; // a value in it no longer loads: rebuild from the events
        }
        if (
            !$snapshot instanceof SnapshotTaken
            || $snapshot->aggregateClass !== static::class
            || $snapshot->aggregateVersion < 1
            || $snapshot->aggregateVersion > $backend->streamVersion($uuid)
        ) {
            return null;
        }
        $aggregate = (new \ReflectionClass(static::class))->newInstanceWithoutConstructor();
        if ($snapshot->snapshotVersion !== $aggregate->snapshotVersion()) {
            return null;
        }
        $properties = [];
        foreach (self::snapshotProperties(static::class) as $property) {
            $properties[$property->getDeclaringClass()->getName() . '::' . $property->getName()] = $property;
        }
        try {
            foreach ($snapshot->state as $entry) {
                if (!\is_array($entry) || !\is_string($entry[0] ?? null) || !\is_string($entry[1] ?? null)) {
                    return null;
                }
                $property = $properties[$entry[0] . '::' . $entry[1]] ?? null;
                if ($property === null) {
                    return null; // the class no longer has it: the snapshot is of another shape
                }
                $value = $entry[2] ?? null;
                \Closure::bind(static function (object $aggregate) use ($property, $value): void {
                    $aggregate->{$property->getName()} = $value;
                }, null, $property->getDeclaringClass()->getName())($aggregate);
            }
        } catch (\Error) {
            return null; // a property no longer accepts its value
        }
        $aggregate->aggregateUuid = $uuid;
        $aggregate->aggregateVersion = $snapshot->aggregateVersion;
        $aggregate->recordedEvents = [];
        $aggregate->recordedMetadata = [];
        return $aggregate;
    }

    /**
     * The non-static properties of $class and its parents below AggregateRoot.
     *
     * @return list<\ReflectionProperty>
     */
    private static function snapshotProperties(string $class): array
    {
        $properties = [];
        for ($reflection = new \ReflectionClass($class); $reflection !== false && $reflection->getName() !== self::class; $reflection = $reflection->getParentClass()) {
            foreach ($reflection->getProperties() as $property) {
                if (!$property->isStatic() && $property->getDeclaringClass()->getName() === $reflection->getName()) {
                    $properties[] = $property;
                }
            }
        }
        return $properties;
    }

    /**
     * What the value codec refuses, refused here first with the property's name (and before
     * anything is sent).
     *
     * @param \SplObjectStorage<object, true>|null $seen
     */
    private static function assertStorable(mixed $value, string $path, int $depth = 0, ?\SplObjectStorage $seen = null): void
    {
        $why = match (true) {
            $depth > self::SNAPSHOT_DEPTH_MAX => 'nested more than ' . self::SNAPSHOT_DEPTH_MAX . ' levels deep',
            $value instanceof \Closure => 'a Closure',
            $value instanceof \Generator => 'a Generator',
            \is_resource($value) || get_debug_type($value) === 'resource (closed)' => 'a resource',
            \is_object($value) && (new \ReflectionClass($value))->isAnonymous() => 'an anonymous class',
            default => null,
        };
        if ($why !== null) {
            throw new SerializationException(sprintf(
                'cannot snapshot %s: %s holds %s, which cannot be stored; nothing was written',
                static::class,
                $path,
                $why,
            ));
        }
        if (\is_object($value) && !$value instanceof \UnitEnum && !$value instanceof \DateTimeInterface) {
            $seen ??= new \SplObjectStorage();
            if ($seen->contains($value)) {
                return; // the codec reports recursion itself
            }
            $seen->attach($value, true);
            foreach ((array) $value as $key => $item) {
                $name = ($at = strrpos((string) $key, "\0")) === false ? (string) $key : substr((string) $key, $at + 1);
                self::assertStorable($item, "{$path}->{$name}", $depth + 1, $seen);
            }
        } elseif (\is_array($value)) {
            foreach ($value as $key => $item) {
                self::assertStorable($item, $path . '[' . var_export($key, true) . ']', $depth + 1, $seen);
            }
        }
    }

    private function applyEvent(Event $event): void
    {
        $methods = self::$applyMethods[static::class][$event::class]
            ??= HandlerMap::methodsFor(static::class, $event::class, 'apply', false, [self::class]);
        foreach ($methods as $method) {
            $this->{$method}($event);
        }
    }
}
