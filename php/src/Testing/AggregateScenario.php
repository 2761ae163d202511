<?php

declare(strict_types=1);

namespace EventSrv\Testing;

use EventSrv\AggregateRoot;
use EventSrv\Event;
use EventSrv\Internal\Runtime;

/**
 * Given-when-then for one aggregate, without a daemon (made by AggregateRoot::fake()):
 *
 *     AccountAggregateRoot::fake($uuid)
 *         ->given([new AccountCreated('Ada'), new BalanceIncreased(5)])
 *         ->when(fn (AccountAggregateRoot $account) => $account->decreaseBalance(3))
 *         ->assertRecorded(new BalanceDecreased(3));
 *
 * given() events form the aggregate's history; when() retrieves the aggregate from that history
 * and runs the command on it. What it records counts, whether or not the command also calls
 * persist() (persist() then goes to this scenario's own in-memory store, never to a daemon).
 * Exceptions from the command propagate, so PHPUnit's expectException() works.
 */
final class AggregateScenario
{
    private InMemoryBackend $backend;

    private int $givenCount = 0;

    /** @var list<Event>|null null until when() ran */
    private ?array $recorded = null;

    private ?AggregateRoot $aggregate = null;

    /**
     * @param class-string<AggregateRoot> $class
     * @internal use AggregateRoot::fake()
     */
    public function __construct(private readonly string $class, private readonly string $uuid)
    {
        $this->backend = new InMemoryBackend();
    }

    /** @param list<Event> $events the aggregate's history, oldest first */
    public function given(array $events): self
    {
        if ($events !== []) {
            $this->backend->given($this->uuid, $events);
            $this->givenCount += \count($events);
        }
        return $this;
    }

    /** @param callable(AggregateRoot): mixed $command */
    public function when(callable $command): self
    {
        $previous = Runtime::installedBackend();
        Runtime::useBackend($this->backend);
        try {
            $aggregate = ($this->class)::retrieve($this->uuid);
            $this->aggregate = $aggregate;
            $command($aggregate);
            $persisted = $this->backend->streamEvents($this->uuid, $this->givenCount);
            $this->recorded = [...$persisted, ...$aggregate->recordedEvents()];
        } finally {
            if ($this->aggregate !== null) {
                self::forgetRecorded($this->aggregate);
            }
            Runtime::useBackend($previous);
        }
        return $this;
    }

    /** The aggregate as the command left it (after when()). */
    public function aggregate(): AggregateRoot
    {
        return $this->aggregate ?? throw new \LogicException('call when() before aggregate()');
    }

    /** @return list<Event> what the command recorded, in order */
    public function recorded(): array
    {
        return $this->recorded ?? throw new \LogicException('call when() before reading what was recorded');
    }

    /**
     * The command recorded exactly these events, in this order (compared by class and payload).
     *
     * @param Event|list<Event> $expected
     */
    public function assertRecorded(Event|array $expected): self
    {
        $expected = \is_array($expected) ? $expected : [$expected];
        Assert::same(
            array_map(self::describe(...), $expected),
            array_map(self::describe(...), $this->recorded()),
            sprintf('%s %s did not record the expected events', $this->class, $this->uuid),
        );
        return $this;
    }

    /** @param class-string<Event> $eventClass */
    public function assertNotRecorded(string $eventClass): self
    {
        $matching = array_filter($this->recorded(), static fn (Event $event): bool => $event instanceof $eventClass);
        Assert::same([], array_values(array_map(self::describe(...), $matching)), "$eventClass was recorded");
        return $this;
    }

    public function assertNothingRecorded(): self
    {
        Assert::same([], array_map(self::describe(...), $this->recorded()), 'events were recorded');
        return $this;
    }

    /** @return array{class: string, payload: array<string, mixed>} */
    private static function describe(Event $event): array
    {
        // Public properties only, as seen from outside: exactly the stored payload.
        $payload = \Closure::bind(static fn (object $o): array => get_object_vars($o), null, null)($event);
        return ['class' => $event::class, 'payload' => $payload];
    }

    /** The scenario owns what was recorded: the aggregate must not warn about it later. */
    private static function forgetRecorded(AggregateRoot $aggregate): void
    {
        \Closure::bind(static function (AggregateRoot $aggregate): void {
            $aggregate->recordedEvents = [];
            $aggregate->recordedMetadata = [];
        }, null, AggregateRoot::class)($aggregate);
    }
}
