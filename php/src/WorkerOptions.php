<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * How the Worker runs. Limits of 0 mean "no limit"; when a limit is reached the worker finishes
 * its batch, commits and returns 0 (like Laravel's queue:work), so a supervisor restarts it.
 */
final class WorkerOptions
{
    /** The extension returns at most this many events per read. */
    public const BATCH_SIZE_MAX = 10_000;

    public function __construct(
        /** Events read and committed per batch. */
        public readonly int $batchSize = 1000,
        /** Stop after about this many events. */
        public readonly int $maxEvents = 0,
        /** Stop after about this many seconds. */
        public readonly int $maxTimeSeconds = 0,
        /** Stop when the process uses more memory than this. */
        public readonly int $memoryLimitMb = 0,
        /** How long one wait for new events may sleep; also bounds how late a signal is seen. */
        public readonly int $sleepMs = 1000,
    ) {
        if ($batchSize < 1 || $batchSize > self::BATCH_SIZE_MAX) {
            throw new \InvalidArgumentException("batch size $batchSize: must be 1.." . self::BATCH_SIZE_MAX);
        }
        $limits = ['maxEvents' => $maxEvents, 'maxTimeSeconds' => $maxTimeSeconds, 'memoryLimitMb' => $memoryLimitMb];
        foreach ($limits as $name => $value) {
            if ($value < 0) {
                throw new \InvalidArgumentException("$name $value: must not be negative (0: no limit)");
            }
        }
        if ($sleepMs < 1) {
            throw new \InvalidArgumentException("sleepMs $sleepMs: must be at least 1");
        }
    }

    /**
     * @param array{batch_size?: int, max_events?: int, max_time?: int, memory_limit?: int, sleep_ms?: int} $options
     */
    public static function fromArray(array $options): self
    {
        $known = ['batch_size', 'max_events', 'max_time', 'memory_limit', 'sleep_ms'];
        $unknown = array_diff(array_keys($options), $known);
        if ($unknown !== []) {
            throw new \InvalidArgumentException(
                'unknown worker option(s) ' . implode(', ', $unknown) . '; known: ' . implode(', ', $known),
            );
        }
        return new self(
            (int) ($options['batch_size'] ?? 1000),
            (int) ($options['max_events'] ?? 0),
            (int) ($options['max_time'] ?? 0),
            (int) ($options['memory_limit'] ?? 0),
            (int) ($options['sleep_ms'] ?? 1000),
        );
    }
}
