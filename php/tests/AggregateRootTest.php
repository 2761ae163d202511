<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\ConcurrencyException;
use EventSrv\EventMeta;
use EventSrv\Internal\Runtime;
use EventSrv\Tests\Fixtures\AccountClosed;
use EventSrv\Tests\Fixtures\AccountOpened;
use EventSrv\Tests\Fixtures\BankAccount;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Uuid;

final class AggregateRootTest extends TestCase
{
    public function testANewAggregateHasAVersion7UuidAndVersion0(): void
    {
        $account = BankAccount::open('Ada')->persist();

        self::assertTrue(Uuid::isValid($account->uuid()));
        self::assertSame('7', $account->uuid()[14]);
        self::assertSame(1, $account->version());
    }

    public function testRecordingAppliesTheEventRightAway(): void
    {
        $account = BankAccount::open('Ada')->add(10)->add(5);

        self::assertSame(15, $account->balance);
        self::assertCount(3, $account->recordedEvents());
        self::assertSame(0, $account->version());
        $account->persist();
    }

    public function testPersistAppendsAndRetrieveRebuildsTheState(): void
    {
        $uuid = BankAccount::open('Ada')->add(10)->persist()->uuid();
        BankAccount::retrieve($uuid)->subtract(3)->persist();

        $account = BankAccount::retrieve($uuid);

        self::assertSame('Ada', $account->name);
        self::assertSame(7, $account->balance);
        self::assertSame(3, $account->version());
        self::assertSame(['opened', 'added', 'subtracted'], $account->applied);
        self::assertSame([], $account->recordedEvents());
        self::assertSame(3, $this->backend->streamVersion($uuid));
        self::assertSame(3, $this->backend->positions()['committed']);
    }

    public function testFindIsAnAliasOfRetrieve(): void
    {
        $uuid = BankAccount::open('Ada')->add(2)->persist()->uuid();

        self::assertSame(2, BankAccount::find($uuid)->balance);
    }

    public function testRetrievingAnUnknownUuidGivesAnEmptyAggregate(): void
    {
        $account = BankAccount::retrieve('0190c6e0-0000-7000-8000-000000000000');

        self::assertSame(0, $account->version());
        self::assertSame('0190c6e0-0000-7000-8000-000000000000', $account->uuid());
        self::assertSame([], $account->applied);
    }

    public function testEventsWithoutApplyMethodAreRecordedAndSkippedOnRetrieve(): void
    {
        $uuid = BankAccount::open('Ada')->close()->persist()->uuid();

        $account = BankAccount::retrieve($uuid);

        self::assertSame(2, $account->version());
        self::assertSame(['opened'], $account->applied);
    }

    public function testAConcurrentWriteMakesPersistThrowAndWritesNothing(): void
    {
        $uuid = BankAccount::open('Ada')->add(10)->persist()->uuid();
        $first = BankAccount::retrieve($uuid);
        $second = BankAccount::retrieve($uuid);
        $first->add(1)->persist();

        try {
            $second->add(2)->persist();
            self::fail('expected a ConcurrencyException');
        } catch (ConcurrencyException $conflict) {
            self::assertSame(2, $conflict->expectedVersion());
            self::assertSame(3, $conflict->actualVersion());
            self::assertSame($uuid, $conflict->aggregateUuid());
            self::assertSame(BankAccount::class, $conflict->aggregateClass());
            self::assertSame(
                BankAccount::class . " $uuid: expected version 2, but the stream is at version 3 "
                . '(another request wrote first; retrieve again and retry)',
                $conflict->getMessage(),
            );
        }
        self::assertSame(11, BankAccount::retrieve($uuid)->balance);
        self::assertSame([], $second->recordedEvents(), 'the rejected events are dropped, no extra warning');
    }

    public function testDestroyingAnAggregateWithUnpersistedEventsWarns(): void
    {
        $warnings = [];
        set_error_handler(static function (int $level, string $message) use (&$warnings): bool {
            $warnings[] = [$level, $message];
            return true;
        });
        try {
            $account = BankAccount::open('Ada')->add(5);
            $uuid = $account->uuid();
            unset($account);
        } finally {
            restore_error_handler();
        }

        self::assertCount(1, $warnings);
        self::assertSame(E_USER_WARNING, $warnings[0][0]);
        self::assertStringContainsString(BankAccount::class . " $uuid", $warnings[0][1]);
        self::assertStringContainsString('2 unpersisted event(s)', $warnings[0][1]);
        self::assertStringContainsString('persist()', $warnings[0][1]);
    }

    public function testAPersistedAggregateDoesNotWarn(): void
    {
        $warnings = 0;
        set_error_handler(static function () use (&$warnings): bool {
            $warnings++;
            return true;
        });
        try {
            $account = BankAccount::open('Ada')->persist();
            unset($account);
        } finally {
            restore_error_handler();
        }

        self::assertSame(0, $warnings);
    }

    public function testAllEventsOfOnePersistShareAFreshCorrelationIdAndHaveNoCausation(): void
    {
        $uuid = BankAccount::open('Ada')->add(1)->persist()->uuid();
        BankAccount::retrieve($uuid)->add(2)->persist();

        $events = $this->backend->streamEvents($uuid);
        $first = $events[0]->meta();
        $second = $events[1]->meta();
        $third = $events[2]->meta();

        self::assertNotNull($first->correlationId());
        self::assertSame($first->correlationId(), $second->correlationId());
        self::assertNotSame($first->correlationId(), $third->correlationId());
        self::assertNull($first->causationId());
    }

    public function testContextMetadataAndCorrelationIdAreStoredWithTheEvents(): void
    {
        \EventSrv\Context::setCorrelationId('request-42');
        \EventSrv\Context::addMetadata(['user' => 'u1']);
        $account = \EventSrv\Context::withMetadata(['ip' => '10.0.0.1'], static fn () => BankAccount::open('Ada'));
        $account->add(3)->persist();

        [$opened, $added] = $this->backend->streamEvents($account->uuid());

        self::assertSame('request-42', $opened->meta()->correlationId());
        self::assertSame(['user' => 'u1', 'ip' => '10.0.0.1'], $opened->meta()->metadata());
        self::assertSame(['user' => 'u1'], $added->meta()->metadata());
        self::assertSame('u1', $added->meta()->get('user'));
        self::assertSame('request-42', $added->meta()->get(EventMeta::CORRELATION_ID));
    }

    public function testPersistWaitsForProjectionsWhenAWorkerIsAttached(): void
    {
        $this->backend->persistWaitMs = 250;
        $this->backend->attachWorker();

        BankAccount::open('Ada')->add(1)->persist();

        self::assertSame([['position' => 2, 'timeout_ms' => 250]], $this->backend->projectionWaits());
    }

    public function testPersistDoesNotWaitWithoutWorkerOrWhenDisabled(): void
    {
        $this->backend->persistWaitMs = 250;
        BankAccount::open('Ada')->persist(); // no worker attached

        $this->backend->persistWaitMs = 0;
        $this->backend->attachWorker();
        BankAccount::open('Bob')->persist(); // waiting disabled

        self::assertSame([], $this->backend->projectionWaits());
    }

    public function testPersistInsideTheWorkerDoesNotWaitForItself(): void
    {
        $this->backend->persistWaitMs = 250;
        $this->backend->attachWorker();
        Runtime::$inWorker = true;

        BankAccount::open('Ada')->persist();

        self::assertSame([], $this->backend->projectionWaits());
    }

    public function testPersistWithoutRecordedEventsDoesNothing(): void
    {
        $account = BankAccount::retrieve(Uuid::v7())->persist();

        self::assertSame(0, $this->backend->positions()['committed']);
        self::assertSame(0, $account->version());
    }

    public function testAnEventNameAttributeBecomesTheStoredTypeAndReadsBack(): void
    {
        $uuid = BankAccount::open('Ada')->close()->persist()->uuid();

        $events = $this->backend->streamEvents($uuid);

        self::assertSame(AccountOpened::class, $events[0]->meta()->type());
        self::assertSame('account.closed', $events[1]->meta()->type());
        self::assertInstanceOf(AccountClosed::class, $events[1]);
        self::assertSame('done', $events[1]->reason);
    }

    public function testReadEventsCarryTheirMeta(): void
    {
        $before = new \DateTimeImmutable('-1 second');
        $uuid = BankAccount::open('Ada')->add(4)->persist()->uuid();

        $added = $this->backend->streamEvents($uuid)[1];

        self::assertInstanceOf(MoneyAdded::class, $added);
        self::assertSame(4, $added->amount);
        self::assertSame(2, $added->meta()->position());
        self::assertSame(2, $added->meta()->version());
        self::assertSame($uuid, $added->meta()->aggregateUuid());
        self::assertTrue(Uuid::isValid($added->meta()->eventId()));
        self::assertGreaterThan($before, $added->meta()->recordedAt());
    }
}
