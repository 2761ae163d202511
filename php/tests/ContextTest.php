<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Context;
use EventSrv\EventMeta;
use EventSrv\Reactor;
use EventSrv\Tests\Fixtures\AccountOpened;
use EventSrv\Tests\Fixtures\BankAccount;

final class ContextTest extends TestCase
{
    public function testOutsideAnyHandlerThereIsNoCausation(): void
    {
        self::assertSame([], Context::metadataForNewEvent());
    }

    public function testWithMetadataIsScoped(): void
    {
        Context::addMetadata(['user' => 'u1']);

        $inside = Context::withMetadata(['ip' => '::1', 'user' => 'u2'], static fn () => Context::metadataForNewEvent());

        self::assertSame(['user' => 'u2', 'ip' => '::1'], $inside);
        self::assertSame(['user' => 'u1'], Context::metadataForNewEvent());
    }

    public function testWithMetadataRestoresAfterAnException(): void
    {
        try {
            Context::withMetadata(['a' => 1], static fn () => throw new \RuntimeException());
        } catch (\RuntimeException) {
        }

        self::assertSame([], Context::metadata());
    }

    public function testReservedKeysAreRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);

        Context::addMetadata([EventMeta::CORRELATION_ID => 'x']);
    }

    public function testHandlingAnEventSetsCausationAndCorrelation(): void
    {
        Context::setCorrelationId('request-1');
        $uuid = BankAccount::open('Ada')->persist()->uuid();
        $opened = $this->backend->streamEvents($uuid)[0];
        Context::setCorrelationId(null);

        $inside = Context::handling($opened, static fn () => Context::metadataForNewEvent());

        self::assertSame([
            EventMeta::CORRELATION_ID => 'request-1',
            EventMeta::CAUSATION_ID => $opened->meta()->eventId(),
        ], $inside);
        self::assertNull(Context::causationId(), 'restored after handling');
        self::assertNull(Context::correlationId());
    }

    public function testEachRecordedEventGetsTheContextOfItsRecording(): void
    {
        Context::setCorrelationId('request-1');
        $uuid = BankAccount::open('Ada')->persist()->uuid();
        $opened = $this->backend->streamEvents($uuid)[0];
        Context::setCorrelationId(null);
        $account = BankAccount::retrieve($uuid);
        $reactor = new class ($account) extends Reactor {
            public function __construct(private BankAccount $account)
            {
            }

            public function onAccountOpened(AccountOpened $event): void
            {
                $this->account->add(3);
            }
        };

        $account->add(1);
        Context::runHandler($reactor, $opened);
        Context::handling($opened, static fn () => $account->add(2));
        Context::addMetadata(['user' => 'u1']);
        $account->add(4)->persist();

        $metas = array_map(static fn ($event) => $event->meta(), $this->backend->streamEvents($uuid, 1));
        $openedId = $opened->meta()->eventId();
        self::assertSame([null, $openedId, $openedId, null], array_map(static fn (EventMeta $meta) => $meta->causationId(), $metas));
        $fresh = $metas[0]->correlationId();
        self::assertSame([$fresh, 'request-1', 'request-1', $fresh], array_map(static fn (EventMeta $meta) => $meta->correlationId(), $metas));
        self::assertSame([[], [], [], ['user' => 'u1']], array_map(static fn (EventMeta $meta) => $meta->metadata(), $metas));
    }

    public function testAnUnrecordedEventChangesNothing(): void
    {
        Context::setCorrelationId('c');

        $inside = Context::handling(new AccountOpened('x'), static fn () => [Context::correlationId(), Context::causationId()]);

        self::assertSame(['c', null], $inside);
    }
}
