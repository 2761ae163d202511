<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\WorkerOptions;

/**
 * When the Worker stops: asked to (stop(), SIGTERM, SIGINT: after the current batch) or past
 * one of its limits (events, time, memory). The worker checks between batches, never inside.
 *
 * @internal
 */
final class WorkerStop
{
    public bool $requested = false;

    public function __construct(private readonly WorkerOptions $options, private readonly WorkerLog $log)
    {
    }

    /** SIGTERM/SIGINT request a stop after the current batch (when pcntl is there). */
    public function installSignalHandlers(): void
    {
        if (!\function_exists('pcntl_async_signals')) {
            $this->log->line('pcntl is not available: SIGTERM/SIGINT will stop the worker without finishing the batch');
            return;
        }
        pcntl_async_signals(true);
        $handler = function (int $signal): void {
            $this->requested = true;
            $this->log->line(sprintf(
                'received %s: stopping after this batch',
                $signal === SIGTERM ? 'SIGTERM' : 'SIGINT',
            ));
        };
        pcntl_signal(SIGTERM, $handler);
        pcntl_signal(SIGINT, $handler);
    }

    /** @return string|null why the run loop ends now; null: it goes on */
    public function reason(float $startedAt, int $processed): ?string
    {
        $options = $this->options;
        if ($this->requested) {
            return 'stop requested';
        }
        if ($options->maxEvents > 0 && $processed >= $options->maxEvents) {
            return "max events {$options->maxEvents} reached";
        }
        if ($options->maxTimeSeconds > 0 && microtime(true) - $startedAt >= $options->maxTimeSeconds) {
            return "max time {$options->maxTimeSeconds}s reached";
        }
        if ($options->memoryLimitMb > 0 && memory_get_usage(true) >= $options->memoryLimitMb * 1048576) {
            return "memory limit {$options->memoryLimitMb} MB reached";
        }
        return null;
    }
}
