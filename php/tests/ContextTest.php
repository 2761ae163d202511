<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Context;
use EventSrv\EventMeta;
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

    public function testAnUnrecordedEventChangesNothing(): void
    {
        Context::setCorrelationId('c');

        $inside = Context::handling(new AccountOpened('x'), static fn () => [Context::correlationId(), Context::causationId()]);

        self::assertSame(['c', null], $inside);
    }
}
