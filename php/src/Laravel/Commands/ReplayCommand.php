<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\Laravel\HandlerRegistry;
use EventSrv\Symfony\Console\ReplayProgress;
use EventSrv\WorkerOptions;
use Illuminate\Console\Command;
use Illuminate\Console\ConfirmableTrait;

/**
 * `php artisan eventsrv:replay [Projector ...]`: rebuilds projections (all, or the named ones)
 * beside the live ones, which keep serving, and swaps each in atomically at the head
 * (Worker::rebuild()), behind a progress bar with events/s and ETA. Reactors do not run.
 */
final class ReplayCommand extends Command
{
    use ConfirmableTrait;

    /** @var string */
    protected $signature = 'eventsrv:replay
        {projector?* : Projectors to rebuild (checkpoint names, class names or short class names); all when omitted}
        {--force : Replay without asking in production}';

    /** @var string */
    protected $description = 'Rebuild eventsrv projections beside the live ones and swap them in';

    public function handle(HandlerRegistry $registry): int
    {
        if (!$this->confirmToProceed()) {
            return 1;
        }
        $worker = $registry->worker(new WorkerOptions(), function (string $line): void {
            $this->getOutput()->isVerbose() && $this->line($line);
        });
        try {
            $replayed = ReplayProgress::run($worker, array_values((array) $this->argument('projector')), $this->getOutput());
        } catch (\InvalidArgumentException $invalid) {
            $this->error($invalid->getMessage());
            return 2;
        } catch (\Throwable $failure) {
            $this->error('Replay failed: ' . $failure::class . ': ' . $failure->getMessage());
            return 1;
        }
        $this->info("Replayed $replayed event(s) beside the live projection and swapped it in.");
        return 0;
    }
}
