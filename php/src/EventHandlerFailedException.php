<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * A projector or reactor handler threw while handling an event. The original exception is the
 * previous one. The Worker logs this and stops: an event is never skipped silently.
 */
class EventHandlerFailedException extends EventSrvException
{
    public function __construct(
        private string $handlerClass,
        private string $method,
        private Event $event,
        \Throwable $previous,
    ) {
        $position = $event->isRecorded() ? '#' . $event->meta()->position() : '(unrecorded)';
        parent::__construct(sprintf(
            '%s::%s() failed on event %s %s: %s: %s (in %s:%d)',
            $handlerClass,
            $method,
            $position,
            $event::class,
            $previous::class,
            $previous->getMessage(),
            $previous->getFile(),
            $previous->getLine(),
        ), 0, $previous);
    }

    public function handlerClass(): string
    {
        return $this->handlerClass;
    }

    public function method(): string
    {
        return $this->method;
    }

    public function event(): Event
    {
        return $this->event;
    }

    /** The failed event's global position, or null if it was never recorded. */
    public function position(): ?int
    {
        return $this->event->isRecorded() ? $this->event->meta()->position() : null;
    }
}
