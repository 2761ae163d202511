<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\Laravel\HandlerRegistry;
use EventSrv\WorkerOptions;
use Illuminate\Console\Command;

/**
 * `php artisan eventsrv:work`: the projector worker (EventSrv\Worker) with the app's projectors
 * and reactors. Like queue:work it stops cleanly on SIGTERM/SIGINT (after the current batch) and
 * when a limit is reached, exiting 0 so a supervisor (systemd, Supervisor) starts it again.
 */
final class WorkCommand extends Command
{
    /** @var string */
    protected $signature = 'eventsrv:work
        {--once : Process the events there are, then exit}
        {--max-events= : Stop after about this many events (0: no limit)}
        {--max-time= : Stop after about this many seconds (0: no limit)}
        {--memory= : Stop when the worker uses more than this many megabytes (0: no limit)}
        {--batch-size= : Events per batch and commit (at most 10000)}
        {--sleep-ms= : Longest single wait for new events, in milliseconds}';

    /** @var string */
    protected $description = 'Run the eventsrv projectors and reactors';

    public function handle(HandlerRegistry $registry): int
    {
        if (!\extension_loaded('eventsrv')) {
            $this->error('The eventsrv extension is not loaded: add extension=eventsrv.so to php.ini (phpenmod eventsrv).');
            return 2;
        }
        try {
            $worker = $registry->worker($this->workerOptions(), function (string $line): void {
                $this->line(sprintf('[%s] %s', date('Y-m-d H:i:s'), $line));
            });
        } catch (\InvalidArgumentException $invalid) {
            $this->error($invalid->getMessage());
            return 2;
        }

        if ($this->option('once')) {
            try {
                $count = $worker->runOnce();
            } catch (\Throwable $failure) {
                $this->error($failure::class . ': ' . $failure->getMessage());
                return 1;
            }
            $this->info("Processed $count event(s).");
            return 0;
        }
        return $worker->run();
    }

    private function workerOptions(): WorkerOptions
    {
        $defaults = (array) $this->laravel->make('config')->get('eventsrv.worker', []);
        $value = function (string $option, string $setting, int $fallback) use ($defaults): int {
            $given = $this->option($option);
            if ($given === null) {
                return (int) ($defaults[$setting] ?? $fallback);
            }
            if (preg_match('/^\d+$/', (string) $given) !== 1) {
                throw new \InvalidArgumentException("--$option expects a whole number, got '$given'");
            }
            return (int) $given;
        };
        return new WorkerOptions(
            batchSize: $value('batch-size', 'batch_size', 1000),
            maxEvents: $value('max-events', 'max_events', 0),
            maxTimeSeconds: $value('max-time', 'max_time', 0),
            memoryLimitMb: $value('memory', 'memory', 128),
            sleepMs: $value('sleep-ms', 'sleep_ms', 1000),
        );
    }
}
