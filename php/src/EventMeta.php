<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * What the store knows about a stored event besides its payload: global position, stream
 * (aggregate uuid) and version, recording time, ids and metadata.
 *
 * Metadata holds the reserved keys correlation_id, causation_id and event_version plus whatever
 * the app added through Context; metadata() returns only the app's part, get() looks at all of it.
 */
final class EventMeta
{
    public const CORRELATION_ID = 'correlation_id';
    public const CAUSATION_ID = 'causation_id';
    public const EVENT_VERSION = 'event_version';

    /** The keys the userland sets itself; the app's metadata may not use them. */
    public const RESERVED = [self::CORRELATION_ID, self::CAUSATION_ID, self::EVENT_VERSION];

    /** @param array<string, mixed> $meta as set by the extension */
    public function __construct(private array $meta)
    {
    }

    public function position(): int
    {
        return (int) $this->meta['position'];
    }

    /** The stream the event belongs to: the uuid of its aggregate. */
    public function aggregateUuid(): string
    {
        return (string) $this->meta['stream'];
    }

    /** The event's version within its stream (1 for the first event). */
    public function version(): int
    {
        return (int) $this->meta['version'];
    }

    public function recordedAtMicroseconds(): int
    {
        return (int) $this->meta['recorded_at_us'];
    }

    /** In the default time zone (date_default_timezone_get()). */
    public function recordedAt(): \DateTimeImmutable
    {
        $microseconds = $this->recordedAtMicroseconds();
        $seconds = intdiv($microseconds, 1_000_000);
        $fraction = $microseconds % 1_000_000;
        if ($fraction < 0) {
            $seconds -= 1;
            $fraction += 1_000_000;
        }
        $time = \DateTimeImmutable::createFromFormat('U.u', sprintf('%d.%06d', $seconds, $fraction));
        \assert($time !== false);
        return $time->setTimezone(new \DateTimeZone(date_default_timezone_get()));
    }

    public function eventId(): string
    {
        return (string) $this->meta['event_id'];
    }

    /** The stored type: the alias if the class has one, else the class name. */
    public function type(): string
    {
        return (string) $this->meta['type'];
    }

    public function correlationId(): ?string
    {
        $id = $this->allMetadata()[self::CORRELATION_ID] ?? null;
        return $id === null ? null : (string) $id;
    }

    public function causationId(): ?string
    {
        $id = $this->allMetadata()[self::CAUSATION_ID] ?? null;
        return $id === null ? null : (string) $id;
    }

    /**
     * The payload version the event was stored with (its class's #[EventVersion] at the time;
     * 1 for events stored without one). The object itself always has the current shape: older
     * payloads are upcast on read (see Upcasters).
     */
    public function eventVersion(): int
    {
        $version = $this->allMetadata()[self::EVENT_VERSION] ?? 1;
        return \is_int($version) ? $version : 1;
    }

    /**
     * The app's own metadata (from Context::addMetadata()/withMetadata()).
     *
     * @return array<string, mixed>
     */
    public function metadata(): array
    {
        $metadata = $this->allMetadata();
        unset($metadata[self::CORRELATION_ID], $metadata[self::CAUSATION_ID], $metadata[self::EVENT_VERSION]);
        return $metadata;
    }

    /** One metadata value (including the reserved keys), or null. */
    public function get(string $key): mixed
    {
        return $this->allMetadata()[$key] ?? null;
    }

    /** @return array<string, mixed> the raw meta as the extension set it */
    public function toArray(): array
    {
        return $this->meta;
    }

    /** @return array<string, mixed> */
    private function allMetadata(): array
    {
        $metadata = $this->meta['metadata'] ?? [];
        return \is_array($metadata) ? $metadata : [];
    }
}
