<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\Event;
use EventSrv\EventSrvException;

/**
 * The global positions of a batch of stored events, read in one pass from the $meta the extension
 * (or a test backend) sets on each event: the worker needs every event's position, and
 * meta()->position() per event cost two calls and an EventMeta object the handler may not need.
 *
 * @internal
 */
final class EventPositions
{
    /** @var (\Closure(list<Event>): list<int>)|null reads Event::$meta, so bound to Event's scope */
    private static ?\Closure $read = null;

    /**
     * @param list<Event> $events read from the store
     * @return list<int> the position of each event, by index
     */
    public static function of(array $events): array
    {
        self::$read ??= \Closure::bind(static function (array $events): array {
            $positions = [];
            foreach ($events as $index => $event) {
                $positions[] = $event instanceof Event
                    ? $event->meta['position'] ?? throw EventPositions::notStored($index, $event)
                    : throw EventPositions::notStored($index, $event);
            }
            return $positions;
        }, null, Event::class);
        return (self::$read)($events);
    }

    /** @internal for the closure above */
    public static function notStored(int $index, mixed $event): EventSrvException
    {
        return new EventSrvException(sprintf(
            'event %d of the batch (%s) has no position: the worker handles only %s objects read from the store',
            $index,
            get_debug_type($event),
            Event::class,
        ));
    }
}
