<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\Laravel\HandlerRegistry;
use EventSrv\RegionException;
use EventSrv\Status\StatusReport;
use EventSrv\Status\StatusTable;
use Illuminate\Console\Command;

/**
 * `php artisan eventsrv:status [--json]`: positions, lag, and each projector's and reactor's status and
 * checkpoint. Exit status 3 when the daemon does not answer (like `eventsrv status`).
 */
final class StatusCommand extends Command
{
    /** @var string */
    protected $signature = 'eventsrv:status {--json : Print JSON for scripts}';

    /** @var string */
    protected $description = 'Show eventsrv positions, lag and projector status';

    public function handle(HandlerRegistry $registry): int
    {
        try {
            $report = StatusReport::collect($registry->projectors(), $registry->reactors());
        } catch (RegionException $unreadable) {
            $this->error($unreadable->getMessage());
            return 3;
        }
        StatusTable::render($report, $this->getOutput(), (bool) $this->option('json'));
        return $report->daemonAnswers ? 0 : 3;
    }
}
