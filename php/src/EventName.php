<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The stored type name (alias) of an event class, e.g. #[EventName('account.created')].
 * With an alias, the class can be renamed or moved without touching stored events. Read once per
 * class by EventTypes. Reading events back needs the alias known in that process: list such
 * classes with EventTypes::register() in the app's bootstrap.
 */
#[\Attribute(\Attribute::TARGET_CLASS)]
final class EventName
{
    public function __construct(public readonly string $name)
    {
    }
}
