<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Optimistic concurrency: persist() found the aggregate's stream at another version than the one
 * it was retrieved at, because another request wrote first. Nothing was written. Retrieve the
 * aggregate again and retry the command.
 */
class ConcurrencyException extends EventSrvException
{
    public function __construct(
        private string $aggregateClass,
        private string $aggregateUuid,
        private int $expectedVersion,
        private int $actualVersion,
    ) {
        parent::__construct(sprintf(
            '%s %s: expected version %d, but the stream is at version %d '
            . '(another request wrote first; retrieve again and retry)',
            $aggregateClass,
            $aggregateUuid,
            $expectedVersion,
            $actualVersion,
        ));
    }

    public function aggregateClass(): string
    {
        return $this->aggregateClass;
    }

    public function aggregateUuid(): string
    {
        return $this->aggregateUuid;
    }

    /** The version persist() expected: the one the aggregate was retrieved at. */
    public function expectedVersion(): int
    {
        return $this->expectedVersion;
    }

    /** The version the stream is actually at. */
    public function actualVersion(): int
    {
        return $this->actualVersion;
    }
}
