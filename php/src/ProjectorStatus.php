<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The lifecycle status of one projector, kept as an ordinary entity of this reserved class in
 * the state region (uuid = the projector's name), so it is committed atomically with the
 * checkpoints it describes, survives restarts through the log like every projection, and is read
 * by `eventsrv status` and by the worker (once per batch) without any daemon-side concept.
 *
 * A projector without a status entity is active. Statuses: active, paused (skipped until
 * resumed), failed (skipped until retried; error, exception, handler, event and position say
 * where), rebuilding (an entity named "<name> (rebuild)" while a rebuild runs beside the live
 * projection; position = how far the rebuild got).
 */
final class ProjectorStatus extends Entity
{
    public const ACTIVE = 'active';
    public const PAUSED = 'paused';
    public const FAILED = 'failed';
    public const REBUILDING = 'rebuilding';

    /** Suffix of the status entity a running rebuild keeps. */
    public const REBUILD_SUFFIX = ' (rebuild)';

    public string $status = self::ACTIVE;

    /** failed: the failing event; rebuilding: the last event the rebuild committed. */
    public int $position = 0;

    /** rebuilding: the head when the rebuild started (for the progress estimate). */
    public int $target = 0;

    public string $exception = '';

    public string $error = '';

    /** failed: Class::method of the handler. */
    public string $handler = '';

    /** failed: the class of the event the handler failed on. */
    public string $event = '';

    /** ISO 8601 time of the change. */
    public string $since = '';

    public static function named(string $projector, string $status): self
    {
        $entity = new self();
        $entity->uuid = $projector;
        $entity->status = $status;
        $entity->since = (new \DateTimeImmutable())->format(\DateTimeInterface::ATOM);
        return $entity;
    }

    public static function failed(string $projector, EventHandlerFailedException $failure): self
    {
        $entity = self::named($projector, self::FAILED);
        $cause = $failure->getPrevious() ?? $failure;
        $entity->position = $failure->position() ?? 0;
        $entity->exception = $cause::class;
        $entity->error = $cause->getMessage();
        $entity->handler = $failure->handlerClass() . '::' . $failure->method();
        $entity->event = $failure->event()::class;
        return $entity;
    }

    /** Whether the worker runs the projector this status belongs to. */
    public function runs(): bool
    {
        return $this->status !== self::FAILED && $this->status !== self::PAUSED;
    }
}
