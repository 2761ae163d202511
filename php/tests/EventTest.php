<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Event;
use EventSrv\EventMeta;
use EventSrv\EventTypes;
use EventSrv\StateException;
use EventSrv\Tests\Fixtures\AccountClosed;
use EventSrv\Tests\Fixtures\AccountOpened;
use EventSrv\Tests\Fixtures\MoneyAdded;

final class EventTest extends TestCase
{
    public function testTheMetaPropertyIsDeclaredAsTheExtensionExpects(): void
    {
        $property = new \ReflectionProperty(Event::class, 'meta');

        self::assertTrue($property->isPrivate());
        self::assertSame('?array', (string) $property->getType());
        self::assertNull($property->getDefaultValue());
    }

    public function testAnUnrecordedEventHasNoMeta(): void
    {
        $event = new AccountOpened('Ada');

        self::assertFalse($event->isRecorded());
        $this->expectException(StateException::class);
        $this->expectExceptionMessage(AccountOpened::class . ' has not been stored yet');

        $event->meta();
    }

    public function testThePayloadIsThePublicProperties(): void
    {
        $this->backend->given('s1', [new MoneyAdded(5)]);

        $stored = $this->backend->eventsAfter(0, 10)[0];

        self::assertInstanceOf(MoneyAdded::class, $stored);
        self::assertSame(5, $stored->amount);
        self::assertSame(['amount' => 5], get_object_vars($stored));
    }

    public function testMetaIsBuiltOncePerEvent(): void
    {
        $this->backend->given('s1', [new MoneyAdded(5)]);

        $stored = $this->backend->eventsAfter(0, 10)[0];

        self::assertSame($stored->meta(), $stored->meta());
        self::assertSame('s1', $stored->meta()->aggregateUuid());
    }

    public function testMetaReadsTheExtensionsArray(): void
    {
        $meta = new EventMeta([
            'position' => 7,
            'stream' => 'abc',
            'version' => 3,
            'recorded_at_us' => 1_700_000_000_123_456,
            'event_id' => '0190c6e0-0000-7000-8000-000000000001',
            'type' => 'account.opened',
            'metadata' => ['correlation_id' => 'c', 'causation_id' => 'x', 'user' => 'u'],
        ]);

        self::assertSame(7, $meta->position());
        self::assertSame('abc', $meta->aggregateUuid());
        self::assertSame(3, $meta->version());
        self::assertSame('2023-11-14T22:13:20.123456+00:00', $meta->recordedAt()->setTimezone(new \DateTimeZone('UTC'))->format('Y-m-d\TH:i:s.uP'));
        self::assertSame('0190c6e0-0000-7000-8000-000000000001', $meta->eventId());
        self::assertSame('account.opened', $meta->type());
        self::assertSame('c', $meta->correlationId());
        self::assertSame('x', $meta->causationId());
        self::assertSame(['user' => 'u'], $meta->metadata());
        self::assertSame('u', $meta->get('user'));
        self::assertNull($meta->get('missing'));
    }

    public function testRegisteredAliasesAreStoredAndResolved(): void
    {
        EventTypes::register([AccountOpened::class => 'account.opened', AccountClosed::class]);

        self::assertSame(['account.opened' , 'account.closed'], array_values(EventTypes::map()));
        self::assertSame('account.opened', EventTypes::typeOf(AccountOpened::class));
        self::assertSame(AccountOpened::class, EventTypes::classOf('account.opened'));
        self::assertSame(MoneyAdded::class, EventTypes::typeOf(MoneyAdded::class));

        $this->backend->given('s1', [new AccountOpened('Ada')]);
        $stored = $this->backend->eventsAfter(0, 1)[0];
        self::assertInstanceOf(AccountOpened::class, $stored);
        self::assertSame('account.opened', $stored->meta()->type());
    }

    public function testAnAliasCanBelongToOneClassOnly(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage("event type name 'x' is used by both");

        EventTypes::register([AccountOpened::class => 'x', MoneyAdded::class => 'x']);
    }
}
