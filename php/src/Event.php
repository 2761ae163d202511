<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Base class of domain events. Public non-static properties (promoted and readonly are fine)
 * are the payload; everything else is not stored. Constructors are not called when events are
 * read back.
 *
 * Events read from the store carry their meta (position, stream, version, time, ids, metadata):
 * the extension sets the private $meta. An event that was only recorded and not yet read back
 * has none: meta() throws StateException then, and isRecorded() says so.
 */
abstract class Event
{
    /**
     * Set by the extension when reading (see docs/extension.md); never stored as payload.
     *
     * @var array<string, mixed>|null
     */
    private ?array $meta = null;

    /**
     * meta() built once: the worker, Context and the handler each ask for it per event. Filled
     * on the first call; $meta is never changed after the event is read, so it stays true.
     */
    private ?EventMeta $metaView = null;

    final public function isRecorded(): bool
    {
        return $this->meta !== null;
    }

    final public function meta(): EventMeta
    {
        if ($this->meta === null) {
            throw new StateException(sprintf(
                '%s has not been stored yet: meta() is only available on events read from the store '
                . '(in projectors, reactors and retrieve()), not on events just recorded',
                static::class,
            ));
        }
        return $this->metaView ??= new EventMeta($this->meta);
    }
}
