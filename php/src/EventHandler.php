<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\HandlerMap;

/**
 * What projectors and reactors share: handler methods found by convention, and a name that keys
 * their checkpoint.
 *
 * A handler is a method on<EventShortName>(TheEvent $event) (public or protected), or any public
 * method whose single parameter is typed with an Event subclass:
 *
 *     public function onAccountCreated(AccountCreated $event): void { … }
 *     public function whenMoneyMoves(BalanceIncreased|BalanceDecreased $event): void { … }
 *
 * Events without a handler are passed over (the checkpoint still moves past them).
 */
abstract class EventHandler
{
    /** @var array<class-string, array<class-string, list<string>>> handler class => event class => methods */
    private static array $methods = [];

    /**
     * The checkpoint name. Renaming a projector's class (or this name) starts it from scratch.
     */
    public function name(): string
    {
        return static::class;
    }

    /**
     * Runs this object's handlers for the event, in declaration order.
     *
     * @return bool whether any handler ran
     * @throws EventHandlerFailedException wrapping what a handler threw
     */
    final public function handle(Event $event): bool
    {
        // runs once per event and handler: the lookup stays here, HandlerMap is asked once
        $methods = self::$methods[static::class][$event::class]
            ??= HandlerMap::handlerMethods(static::class, $event::class);
        foreach ($methods as $method) {
            try {
                $this->{$method}($event);
            } catch (\Throwable $failure) {
                throw new EventHandlerFailedException(static::class, $method, $event, $failure);
            }
        }
        return $methods !== [];
    }

    /** Whether handle() would run anything for this event class. */
    final public function handles(string $eventClass): bool
    {
        return HandlerMap::handlerMethods(static::class, $eventClass) !== [];
    }
}
