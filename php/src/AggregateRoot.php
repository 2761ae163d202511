<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\HandlerMap;
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
 */
abstract class AggregateRoot
{
    private string $aggregateUuid = '';

    /** The stream version this object stands on: retrieved or last persisted. */
    private int $aggregateVersion = 0;

    /** @var list<Event> */
    private array $recordedEvents = [];

    /** @var list<array<string, mixed>> one per recorded event */
    private array $recordedMetadata = [];

    /** Subclasses may declare a constructor, but without required parameters. */
    protected function __construct()
    {
    }

    /** Rebuilds the aggregate from its stream; an unknown uuid gives a new, empty aggregate. */
    public static function retrieve(string $uuid): static
    {
        $aggregate = new static();
        $aggregate->aggregateUuid = $uuid;
        foreach (Runtime::backend()->streamEvents($uuid) as $event) {
            $aggregate->applyEvent($event);
            $aggregate->aggregateVersion = $event->isRecorded()
                ? $event->meta()->version()
                : $aggregate->aggregateVersion + 1;
        }
        return $aggregate;
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
        $correlationId = null;
        $metadata = [];
        foreach ($this->recordedMetadata as $i => $one) {
            if (!isset($one[EventMeta::CORRELATION_ID])) {
                $one = [EventMeta::CORRELATION_ID => $correlationId ??= Uuid::v7()] + $one;
            }
            $class = $this->recordedEvents[$i]::class;
            EventTypes::ensureKnown($class);
            $eventVersion = EventTypes::versionOf($class);
            if ($eventVersion !== 1) {
                $one[EventMeta::EVENT_VERSION] = $eventVersion;
            }
            $metadata[$i] = $one;
        }

        $result = $backend->append($this->aggregateUuid, $this->aggregateVersion, $this->recordedEvents, $metadata);

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
        $this->aggregateVersion = (int) $result['version'];
        $this->recordedEvents = [];
        $this->recordedMetadata = [];

        // The worker itself is the projector: waiting for it from inside would only stall it.
        if (!Runtime::$inWorker) {
            $waitMs = $backend->persistWaitMs();
            if ($waitMs > 0 && $backend->positions()['workers'] > 0) {
                $backend->waitForProjection((int) $result['last_position'], $waitMs);
            }
        }
        return $this;
    }

    /** Records an event and applies it to this aggregate. */
    protected function event(Event $event): static
    {
        $this->applyEvent($event);
        $this->recordedEvents[] = $event;
        $this->recordedMetadata[] = Context::metadataForNewEvent();
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

    private function applyEvent(Event $event): void
    {
        $methods = HandlerMap::methodsFor(static::class, $event::class, 'apply', false, [self::class]);
        foreach ($methods as $method) {
            $this->{$method}($event);
        }
    }
}
