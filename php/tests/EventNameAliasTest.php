<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\EventTypes;
use EventSrv\Tests\Fixtures\Deposited;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\MoneySubtracted;
use EventSrv\Tests\Fixtures\Piggybank;
use EventSrv\Upcasters;
use EventSrv\Tests\Fixtures\DepositedUpcasters;

/** #[EventName(…, aliases: […])] and EventTypes::register() with several names per class. */
final class EventNameAliasTest extends TestCase
{
    private const STREAM = '0190c6e0-0000-7000-8000-00000000a001';

    public function testTheAttributeGivesTheWrittenNameAndEveryReadName(): void
    {
        self::assertSame('wallet.deposited', EventTypes::typeOf(Deposited::class));
        self::assertSame(['wallet.deposited', 'EventSrv\Tests\Fixtures\MoneyDeposited'], EventTypes::namesOf(Deposited::class));
        self::assertSame(Deposited::class, EventTypes::classOf('EventSrv\Tests\Fixtures\MoneyDeposited'));
        self::assertSame(Deposited::class, EventTypes::classOf('wallet.deposited'));
    }

    public function testAnEventStoredUnderAnOldClassNameLoadsAsTheRenamedClass(): void
    {
        EventTypes::register([MoneyAdded::class => ['money.added', 'Legacy\Bank\CashIn']]);
        $this->backend->givenStored(self::STREAM, 'Legacy\Bank\CashIn', ['amount' => 4]);
        $this->backend->given(self::STREAM, [new MoneyAdded(6)]);

        $events = $this->backend->streamEvents(self::STREAM);

        self::assertSame([MoneyAdded::class, MoneyAdded::class], array_map(static fn ($e) => $e::class, $events));
        self::assertSame([4, 6], array_map(static fn ($e) => $e->amount, $events));
        self::assertSame(['Legacy\Bank\CashIn', 'money.added'], array_map(static fn ($e) => $e->meta()->type(), $events));
    }

    public function testAClassListedInTheBootstrapIsKnownBeforeItIsWritten(): void
    {
        EventTypes::register([Deposited::class]);
        Upcasters::register(Deposited::class, DepositedUpcasters::chain());
        $this->backend->givenStored(self::STREAM, 'EventSrv\Tests\Fixtures\MoneyDeposited', ['amount' => 2]);

        self::assertSame(['200 EUR'], Piggybank::retrieve(self::STREAM)->deposits);
    }

    public function testANameCannotBelongToTwoClasses(): void
    {
        EventTypes::register([MoneyAdded::class => ['money.moved']]);

        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage("'money.moved' is used by both");

        EventTypes::register([MoneySubtracted::class => ['money.subtracted', 'money.moved']]);
    }

    public function testAnotherLiveEventClassCannotBeAnAlias(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('that is another event class');

        EventTypes::register([MoneyAdded::class => ['money.added', MoneySubtracted::class]]);
    }

    public function testTheWrittenNameCannotChangeInOneProcess(): void
    {
        EventTypes::register([MoneyAdded::class => 'money.added']);

        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage("already has the event type name 'money.added'");

        EventTypes::register([MoneyAdded::class => 'money.added.v2']);
    }

    public function testMoreAliasesForAKnownClassAreAdded(): void
    {
        EventTypes::register([MoneyAdded::class => 'money.added']);
        EventTypes::register([MoneyAdded::class => ['money.added', 'cash.in']]);

        self::assertSame(['money.added', 'cash.in'], EventTypes::namesOf(MoneyAdded::class));
        self::assertSame([MoneyAdded::class => ['money.added', 'cash.in']], EventTypes::map());
    }
}
