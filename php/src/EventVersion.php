<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The current version of an event class's payload shape, e.g. #[EventVersion(2)] (default 1).
 * Stored with each event (metadata 'event_version', only when not 1); events stored with an
 * older version are upcast on read by the chain registered with Upcasters::register().
 */
#[\Attribute(\Attribute::TARGET_CLASS)]
final class EventVersion
{
    public function __construct(public readonly int $version)
    {
        if ($version < 1) {
            throw new \InvalidArgumentException("an event version is 1 or more, not $version");
        }
    }
}
