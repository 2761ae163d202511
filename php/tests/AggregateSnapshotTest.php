<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\ConcurrencyException;
use EventSrv\SerializationException;
use EventSrv\SnapshotTaken;
use EventSrv\StateException;
use EventSrv\Tests\Fixtures\Ledger;
use EventSrv\Tests\Fixtures\MoneyAdded;

/** AggregateRoot::snapshot() and retrieve() from a snapshot, on the in-memory backend. */
final class AggregateSnapshotTest extends TestCase
{
    private const LEDGER = '0190c6e0-0000-7000-8000-00000000c001';

    protected function setUp(): void
    {
        parent::setUp();
        Ledger::$every = 0;
        Ledger::$shape = 1;
        Ledger::$applied = 0;
    }

    public function testPrivateProtectedAndParentPrivatePropertiesSurviveASnapshot(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(3), new MoneyAdded(4)]);
        $before = Ledger::retrieve(self::LEDGER)->snapshot()->state();
        Ledger::$applied = 0;

        $after = Ledger::retrieve(self::LEDGER);

        self::assertSame(0, Ledger::$applied, 'nothing replayed: the snapshot is at the head');
        self::assertSame($before, $after->state());
        self::assertSame(['history' => [3, 4], 'secret' => 'parent saw 2'], $after->state()['parent']);
        self::assertSame('child saw 2', $after->state()['secret'], 'the child private of the same name stays apart');
        self::assertSame(2, $after->version());
    }

    public function testRetrieveFromASnapshotPlusLaterEventsEqualsAFullReplay(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1), new MoneyAdded(2)]);
        Ledger::retrieve(self::LEDGER)->snapshot();
        $this->backend->given(self::LEDGER, [new MoneyAdded(5), new MoneyAdded(7)]);
        Ledger::$applied = 0;

        $fromSnapshot = Ledger::retrieve(self::LEDGER);

        self::assertSame(2, Ledger::$applied, 'only the events after the snapshot were applied');
        $this->backend->given(self::LEDGER . '.snapshot', [new MoneyAdded(0)]); // hide it: not a SnapshotTaken
        $replayed = Ledger::retrieve(self::LEDGER);
        self::assertSame(6, Ledger::$applied, 'the full replay applied all four');
        self::assertSame($replayed->state(), $fromSnapshot->state());
        self::assertSame(4, $fromSnapshot->version());
    }

    public function testASnapshotOfAnotherShapeIsIgnored(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1), new MoneyAdded(2), new MoneyAdded(3)]);
        Ledger::retrieve(self::LEDGER)->snapshot();
        Ledger::$shape = 2;
        Ledger::$applied = 0;

        $ledger = Ledger::retrieve(self::LEDGER);

        self::assertSame(3, Ledger::$applied, 'rebuilt from every event');
        self::assertSame(6, $ledger->state()['total']);
    }

    public function testASnapshotNamingAPropertyTheClassNoLongerHasIsIgnored(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1), new MoneyAdded(2)]);
        $this->backend->given(self::LEDGER . '.snapshot', [new SnapshotTaken(Ledger::class, 2, 1, [
            [Ledger::class, 'count', 99],
            [Ledger::class, 'balance', 99], // renamed since, without bumping snapshotVersion()
        ])]);

        $ledger = Ledger::retrieve(self::LEDGER);

        self::assertSame(2, $ledger->count);
        self::assertSame(2, Ledger::$applied);
    }

    public function testASnapshotValueThePropertyNoLongerAcceptsIsIgnored(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1)]);
        $this->backend->given(self::LEDGER . '.snapshot', [new SnapshotTaken(Ledger::class, 1, 1, [
            [Ledger::class, 'count', 'not an int'],
        ])]);

        self::assertSame(1, Ledger::retrieve(self::LEDGER)->count);
    }

    public function testASnapshotOfAnotherClassOrAheadOfTheStreamIsIgnored(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1)]);
        $this->backend->given(self::LEDGER . '.snapshot', [
            new SnapshotTaken(Ledger::class, 5, 1, [[Ledger::class, 'count', 50]]),
        ]);
        self::assertSame(1, Ledger::retrieve(self::LEDGER)->count, 'a snapshot past the stream is not trusted');

        $this->backend->given(self::LEDGER . '.snapshot', [
            new SnapshotTaken(\stdClass::class, 1, 1, [[Ledger::class, 'count', 50]]),
        ]);
        self::assertSame(1, Ledger::retrieve(self::LEDGER)->count);
    }

    public function testPersistAfterASnapshotBasedRetrieveChecksTheStreamVersion(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1), new MoneyAdded(2)]);
        Ledger::retrieve(self::LEDGER)->snapshot();
        $this->backend->given(self::LEDGER, [new MoneyAdded(3)]);
        $first = Ledger::retrieve(self::LEDGER);
        $second = Ledger::retrieve(self::LEDGER);
        self::assertSame(3, $first->version());

        $first->add(10)->persist();
        self::assertSame(4, $first->version());

        $this->expectException(ConcurrencyException::class);
        $second->add(20)->persist();
    }

    public function testSnapshotEveryNTakesOneWhenTheVersionPassesAMultiple(): void
    {
        Ledger::$every = 3;
        $ledger = Ledger::retrieve(self::LEDGER)->add(1)->add(1)->persist();
        self::assertSame(0, $this->backend->streamVersion(self::LEDGER . '.snapshot'));

        $ledger->add(1)->add(1)->persist(); // 2 → 4 passes 3
        $ledger->add(1)->persist(); // 4 → 5 passes nothing

        $snapshots = $this->backend->streamEvents(self::LEDGER . '.snapshot');
        self::assertCount(1, $snapshots);
        self::assertSame(4, $snapshots[0]->aggregateVersion);
        Ledger::$applied = 0;
        self::assertSame(5, Ledger::retrieve(self::LEDGER)->state()['total']);
        self::assertSame(1, Ledger::$applied);
    }

    public function testASnapshotWithUnpersistedEventsIsRefused(): void
    {
        $ledger = Ledger::retrieve(self::LEDGER)->add(1);
        try {
            $this->expectException(StateException::class);
            $this->expectExceptionMessage('persist() before snapshot()');
            $ledger->snapshot();
        } finally {
            $ledger->persist();
        }
    }

    public function testAClosureInAPropertyIsRefusedNamingItAndNothingIsWritten(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1)]);
        $ledger = Ledger::retrieve(self::LEDGER);
        $ledger->extra = ['callbacks' => [static fn (): int => 1]];

        try {
            $ledger->snapshot();
            self::fail('a Closure was snapshotted');
        } catch (SerializationException $refused) {
            self::assertStringContainsString(
                Ledger::class . "::\$extra['callbacks'][0] holds a Closure",
                $refused->getMessage(),
            );
        }
        self::assertSame(0, $this->backend->streamVersion(self::LEDGER . '.snapshot'));
    }

    public function testAResourceInANestedObjectIsRefused(): void
    {
        $this->backend->given(self::LEDGER, [new MoneyAdded(1)]);
        $ledger = Ledger::retrieve(self::LEDGER);
        $holder = new \stdClass();
        $holder->file = fopen('php://memory', 'r');
        $ledger->extra = $holder;

        $this->expectException(SerializationException::class);
        $this->expectExceptionMessage('::$extra->file holds a resource');

        $ledger->snapshot();
    }

    public function testANewAggregateHasNothingToSnapshot(): void
    {
        Ledger::retrieve(self::LEDGER)->snapshot();

        self::assertSame(0, $this->backend->streamVersion(self::LEDGER . '.snapshot'));
    }
}
