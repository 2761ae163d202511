<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Context;
use EventSrv\EventMeta;
use EventSrv\EventTypes;
use EventSrv\StateException;
use EventSrv\UnknownEventTypeException;
use EventSrv\Upcaster;
use EventSrv\Upcasters;
use EventSrv\Tests\Fixtures\Deposited;
use EventSrv\Tests\Fixtures\DepositedUpcasters;
use EventSrv\Tests\Fixtures\DepositProjector;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\Piggybank;

/** #[EventVersion], the stored event_version and the Upcaster chain, on the in-memory backend. */
final class EventVersionTest extends TestCase
{
    private const BANK = '0190c6e0-0000-7000-8000-00000000b001';

    protected function setUp(): void
    {
        parent::setUp();
        DepositedUpcasters::$ran = [];
        EventTypes::register([Deposited::class]);
        Upcasters::register(Deposited::class, DepositedUpcasters::chain());
    }

    public function testPersistStoresTheClassVersionAndMetaReportsIt(): void
    {
        Piggybank::retrieve(self::BANK)->deposit(250)->persist();

        $stored = $this->backend->streamEvents(self::BANK)[0];
        self::assertSame(3, $stored->meta()->eventVersion());
        self::assertSame(3, $stored->meta()->get(EventMeta::EVENT_VERSION));
        self::assertSame([], $stored->meta()->metadata(), 'event_version is not app metadata');
        self::assertSame('wallet.deposited', $stored->meta()->type());
        self::assertSame([], DepositedUpcasters::$ran, 'a current event is never upcast');
    }

    public function testOnePersistOfMixedClassesAndContextsStoresEachEventsOwnMetadata(): void
    {
        $bank = Piggybank::retrieve(self::BANK);
        $bank->deposit(1);
        $bank->record(new MoneyAdded(2));
        Context::addMetadata(['user' => 'u1']);
        $bank->record(new MoneyAdded(3));
        $bank->deposit(4)->deposit(5);
        Context::setCorrelationId('request-7');
        $bank->deposit(6)->persist();

        $metas = array_map(static fn ($event) => $event->meta(), $this->backend->streamEvents(self::BANK));
        self::assertSame([3, 1, 1, 3, 3, 3], array_map(static fn (EventMeta $meta) => $meta->eventVersion(), $metas));
        self::assertSame(
            [[], [], ['user' => 'u1'], ['user' => 'u1'], ['user' => 'u1'], ['user' => 'u1']],
            array_map(static fn (EventMeta $meta) => $meta->metadata(), $metas),
        );
        $fresh = $metas[0]->correlationId();
        self::assertNotNull($fresh);
        self::assertNotSame('request-7', $fresh);
        self::assertSame(
            [$fresh, $fresh, $fresh, $fresh, $fresh, 'request-7'],
            array_map(static fn (EventMeta $meta) => $meta->correlationId(), $metas),
            'one fresh correlation id for the events recorded without one',
        );
    }

    public function testAVersion1EventIsNotMarked(): void
    {
        $this->backend->given(self::BANK, [new MoneyAdded(1)]);
        \EventSrv\Tests\Fixtures\BankAccount::retrieve(self::BANK)->add(2)->persist();

        foreach ($this->backend->streamEvents(self::BANK) as $event) {
            self::assertNull($event->meta()->get(EventMeta::EVENT_VERSION));
            self::assertSame(1, $event->meta()->eventVersion());
        }
    }

    public function testAnAggregateRetrievesAV1EventUpcastThroughTheWholeChain(): void
    {
        // v1: stored by the old class under its class name, in euros, without event_version.
        $this->backend->givenStored(self::BANK, 'EventSrv\Tests\Fixtures\MoneyDeposited', ['amount' => 5]);
        // v2: cents, under the new name.
        $this->backend->givenStored(self::BANK, 'wallet.deposited', ['cents' => 70], [EventMeta::EVENT_VERSION => 2]);
        Piggybank::retrieve(self::BANK)->deposit(9, 'CHF')->persist();
        DepositedUpcasters::$ran = [];

        $bank = Piggybank::retrieve(self::BANK);

        self::assertSame(['500 EUR', '70 EUR', '9 CHF'], $bank->deposits);
        self::assertSame(3, $bank->version());
        self::assertSame(['1->2 at 1', '2->3 at 1', '2->3 at 2'], DepositedUpcasters::$ran);
    }

    public function testAProjectorSeesTheUpcastEventAndTheStoredVersion(): void
    {
        $this->backend->givenStored(self::BANK, 'EventSrv\Tests\Fixtures\MoneyDeposited', ['amount' => 3]);
        $this->backend->givenStored(self::BANK, 'wallet.deposited', ['cents' => 1, 'currency' => 'USD'], [EventMeta::EVENT_VERSION => 3]);
        $projector = new DepositProjector();

        $this->worker([$projector])->runOnce();

        self::assertSame(['300 EUR (stored v1)', '1 USD (stored v3)'], $projector->seen);
    }

    public function testAStoredVersionNewerThanTheClassIsRefusedNotGuessed(): void
    {
        $this->backend->givenStored(self::BANK, 'wallet.deposited', ['cents' => 1, 'currency' => 'EUR', 'memo' => 'x'], [EventMeta::EVENT_VERSION => 4]);

        $this->expectException(UnknownEventTypeException::class);
        $this->expectExceptionMessage('stored with version 4, but ' . Deposited::class . ' is at version 3');

        Piggybank::retrieve(self::BANK);
    }

    public function testAChainWithAGapIsRefusedWhenRegistered(): void
    {
        Upcasters::reset();

        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('add the one from version 2 to 3');

        Upcasters::register(Deposited::class, [1 => DepositedUpcasters::chain()[1]]);
    }

    public function testAnUpcasterForTheCurrentVersionIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('keyed by the version it reads, 1 to 2; got 3');

        Upcasters::register(Deposited::class, [3 => DepositedUpcasters::chain()[1]]);
    }

    public function testUpcastersForAVersion1ClassAreRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('give it #[EventVersion(2)]');

        Upcasters::register(MoneyAdded::class, [1 => new class () implements Upcaster {
            public function upcast(array $payload, EventMeta $meta): array
            {
                return $payload;
            }
        }]);
    }

    public function testAnOldEventWithoutItsUpcasterSaysWhichStepIsMissing(): void
    {
        Upcasters::reset();
        Upcasters::register(Deposited::class, [2 => DepositedUpcasters::chain()[2]]);
        $this->backend->givenStored(self::BANK, 'wallet.deposited', ['amount' => 1]);

        $this->expectException(StateException::class);
        $this->expectExceptionMessage('no upcaster from version 1 is registered');

        Piggybank::retrieve(self::BANK);
    }

    public function testTheAppCannotSetTheEventVersionAsMetadata(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage("metadata key 'event_version' is reserved");

        Context::addMetadata([EventMeta::EVENT_VERSION => 7]);
    }
}
