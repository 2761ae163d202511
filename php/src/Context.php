<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Metadata that travels with the events a piece of code records: the correlation id (one
 * business transaction: a request and everything its events cause), the causation id (the event
 * that caused these events) and the app's own metadata (user id, ip, …).
 *
 * While the Worker runs a handler for event E, events recorded get causation_id = E's id and
 * correlation_id = E's correlation id. Outside a handler the correlation id is what the app set
 * (e.g. from an X-Request-Id header) or a fresh uuid per persist().
 */
final class Context
{
    private static ?string $correlationId = null;

    private static ?string $causationId = null;

    /**
     * The stored event a Worker handler is running for, whose ids have not been read yet: the
     * ids are taken from it on first use (most handlers record nothing, and reading them per
     * event and handler was a measurable part of a replay). The Worker sets it (and clears
     * $newEventMetadata) before each handler, between saveHandling() and restoreHandling(),
     * without a call; never write it from elsewhere. Untyped on purpose: without opcache, each
     * write to a class-typed property looks the class up by name (~100 instructions), and this
     * one is written per event and handler.
     *
     * @internal
     * @var Event|null
     */
    public static $handled = null;

    /** @var array<string, mixed> */
    private static array $metadata = [];

    /**
     * What metadataForNewEvent() returns now, or null when it must be worked out again: every
     * change to the state above clears it. AggregateRoot reads it per recorded event, which then
     * costs no call. Never write it from outside this class.
     *
     * @internal
     * @var array<string, mixed>|null
     */
    public static ?array $newEventMetadata = [];

    public static function correlationId(): ?string
    {
        self::readHandledIds();
        return self::$correlationId;
    }

    public static function causationId(): ?string
    {
        self::readHandledIds();
        return self::$causationId;
    }

    /** @return array<string, mixed> the app's metadata */
    public static function metadata(): array
    {
        return self::$metadata;
    }

    public static function setCorrelationId(?string $correlationId): void
    {
        self::readHandledIds();
        self::$correlationId = $correlationId;
        self::$newEventMetadata = null;
    }

    /**
     * Adds metadata to every event recorded from now on (until reset()).
     *
     * @param array<string, mixed> $metadata
     */
    public static function addMetadata(array $metadata): void
    {
        self::guard($metadata);
        self::$metadata = array_replace(self::$metadata, $metadata);
        self::$newEventMetadata = null;
    }

    /**
     * Runs $callback with extra metadata for the events it records, then restores the previous.
     *
     * @template T
     * @param array<string, mixed> $metadata
     * @param callable(): T $callback
     * @return T
     */
    public static function withMetadata(array $metadata, callable $callback): mixed
    {
        self::guard($metadata);
        $saved = self::$metadata;
        self::$metadata = array_replace(self::$metadata, $metadata);
        self::$newEventMetadata = null;
        try {
            return $callback();
        } finally {
            self::$metadata = $saved;
            self::$newEventMetadata = null;
        }
    }

    /**
     * Runs $callback as the handling of $event: events recorded meanwhile are caused by it and
     * share its correlation id. Used by the Worker; handy in tests of reactors.
     *
     * @template T
     * @param callable(): T $callback
     * @return T
     */
    public static function handling(Event $event, callable $callback): mixed
    {
        self::readHandledIds();
        $saved = [self::$correlationId, self::$causationId];
        if ($event->isRecorded()) {
            $meta = $event->meta();
            self::$causationId = $meta->eventId();
            self::$correlationId = $meta->correlationId() ?? self::$causationId;
        }
        self::$newEventMetadata = null;
        try {
            return $callback();
        } finally {
            self::$handled = null;
            [self::$correlationId, self::$causationId] = $saved;
            self::$newEventMetadata = null;
        }
    }

    /**
     * handling() without a closure: runs $handler on the stored $event, and reads the event's ids
     * only if the handler asks for them. (The Worker itself sets $handled per handler instead.)
     *
     * @internal
     */
    public static function runHandler(EventHandler $handler, Event $event): bool
    {
        $saved = self::saveHandling();
        self::$handled = $event;
        self::$newEventMetadata = null;
        try {
            return $handler->handle($event);
        } finally {
            self::restoreHandling($saved);
        }
    }

    /**
     * The state the Worker's batch of handlers changes, for restoreHandling().
     *
     * @internal
     * @return array{?string, ?string, ?Event}
     */
    public static function saveHandling(): array
    {
        return [self::$correlationId, self::$causationId, self::$handled];
    }

    /**
     * Back to the state saveHandling() returned, after the Worker's batch of handlers.
     *
     * @internal
     * @param array{?string, ?string, ?Event} $saved
     */
    public static function restoreHandling(array $saved): void
    {
        [self::$correlationId, self::$causationId, self::$handled] = $saved;
        self::$newEventMetadata = null;
    }

    /**
     * The metadata for an event recorded now. correlation_id is left out when none is set:
     * persist() gives all events of one call the same fresh id.
     *
     * @internal
     * @return array<string, mixed>
     */
    public static function metadataForNewEvent(): array
    {
        if (self::$handled !== null) {
            self::readHandledIds();
        }
        if (self::$correlationId === null && self::$causationId === null) {
            // the common case outside handlers: no copy, no new array
            return self::$newEventMetadata = self::$metadata;
        }
        $metadata = [];
        if (self::$correlationId !== null) {
            $metadata[EventMeta::CORRELATION_ID] = self::$correlationId;
        }
        if (self::$causationId !== null) {
            $metadata[EventMeta::CAUSATION_ID] = self::$causationId;
        }
        return self::$newEventMetadata = $metadata + self::$metadata;
    }

    public static function reset(): void
    {
        self::$handled = null;
        self::$correlationId = null;
        self::$causationId = null;
        self::$metadata = [];
        self::$newEventMetadata = [];
    }

    /** The ids of the handled event (runHandler(), the Worker), read now that something needs them. */
    private static function readHandledIds(): void
    {
        if (self::$handled === null) {
            return;
        }
        $meta = self::$handled->meta();
        self::$handled = null;
        self::$causationId = $meta->eventId();
        self::$correlationId = $meta->correlationId() ?? self::$causationId;
    }

    /** @param array<mixed> $metadata */
    private static function guard(array $metadata): void
    {
        foreach (EventMeta::RESERVED as $reserved) {
            if (\array_key_exists($reserved, $metadata)) {
                throw new \InvalidArgumentException(
                    "metadata key '$reserved' is reserved: use Context::setCorrelationId(), #[EventVersion], "
                    . 'or let the worker set it',
                );
            }
        }
    }
}
