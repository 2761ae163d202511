<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Event;
use EventSrv\Projector;
use EventSrv\Reactor;
use EventSrv\Tests\Fixtures\AccountClosed;
use EventSrv\Tests\Fixtures\AccountOpened;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\MoneySubtracted;

final class HandlerDiscoveryTest extends TestCase
{
    public function testOnShortNameMethodsHandleTheirEvent(): void
    {
        $handler = new DiscoveryReactor();

        self::assertTrue($handler->handle(new AccountOpened('Ada')));

        self::assertSame(['onAccountOpened'], $handler->calls);
    }

    public function testProtectedAndUntypedOnMethodsCount(): void
    {
        $handler = new DiscoveryReactor();

        $handler->handle(new AccountClosed());

        self::assertSame(['onAccountClosed (untyped, protected)'], $handler->calls);
    }

    public function testPublicMethodsTypedWithAnEventClassCountWhateverTheirName(): void
    {
        $handler = new DiscoveryReactor();

        $handler->handle(new MoneyAdded(1));
        $handler->handle(new MoneySubtracted(1));

        self::assertSame(['whenMoneyMoves ' . MoneyAdded::class, 'whenMoneyMoves ' . MoneySubtracted::class, 'subtracted'], $handler->calls);
    }

    public function testEventsWithoutHandlerArePassedOver(): void
    {
        $handler = new DiscoveryReactor();

        self::assertFalse($handler->handle(new UnhandledEvent()));
        self::assertFalse($handler->handles(UnhandledEvent::class));
        self::assertTrue($handler->handles(MoneyAdded::class));
        self::assertSame([], $handler->calls);
    }

    public function testAnOnMethodTypedWithAnotherEventDoesNotCatchTheNamesake(): void
    {
        $handler = new MismatchedProjector();

        self::assertFalse($handler->handle(new AccountOpened('x')));
    }

    public function testTheDefaultNameIsTheClassName(): void
    {
        self::assertSame(DiscoveryReactor::class, (new DiscoveryReactor())->name());
    }
}

final class UnhandledEvent extends Event
{
}

final class DiscoveryReactor extends Reactor
{
    /** @var list<string> */
    public array $calls = [];

    public function onAccountOpened(AccountOpened $event): void
    {
        $this->calls[] = 'onAccountOpened';
    }

    /** @param AccountClosed $event */
    protected function onAccountClosed($event): void
    {
        $this->calls[] = 'onAccountClosed (untyped, protected)';
    }

    public function whenMoneyMoves(MoneyAdded|MoneySubtracted $event): void
    {
        $this->calls[] = 'whenMoneyMoves ' . $event::class;
    }

    public function onMoneySubtracted(MoneySubtracted $event): void
    {
        $this->calls[] = 'subtracted';
    }

    /** Not a handler: its parameter is no event. */
    public function format(string $text): string
    {
        return $text;
    }

    /** Not a handler: private. */
    private function onMoneyAdded(MoneyAdded $event): void // @phpstan-ignore-line
    {
        $this->calls[] = 'private';
    }

    /** Not a handler: typed with the Event base class, which would catch everything. */
    public function anything(Event $event): void
    {
        $this->calls[] = 'anything';
    }
}

final class MismatchedProjector extends Projector
{
    public function onAccountOpened(MoneyAdded $event): void
    {
        throw new \LogicException('must not be called');
    }
}
