<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The stored type name of an event class, e.g. #[EventName('account.created')], and the names
 * its events were stored under before (aliases: an older EventName, or the class's old name):
 *
 *     #[EventName('account.balance_increased', aliases: ['Bank\MoneyAdded'])]
 *
 * New events are written under $name; events stored under $name or any alias read back as this
 * class. Read once per class by EventTypes. Reading events back needs the names known in that
 * process: list such classes with EventTypes::register() in the app's bootstrap.
 */
#[\Attribute(\Attribute::TARGET_CLASS)]
final class EventName
{
    /** @param list<string> $aliases */
    public function __construct(public readonly string $name, public readonly array $aliases = [])
    {
    }
}
