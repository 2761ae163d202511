<?php

declare(strict_types=1);

namespace EventSrv\Status;

use Symfony\Component\Console\Helper\Table;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * Prints a StatusReport for people (`eventsrv:status`) or as JSON for scripts (`--json`).
 * Needs symfony/console, which both artisan and Symfony's console are built on.
 */
final class StatusTable
{
    public static function render(StatusReport $report, OutputInterface $output, bool $json): void
    {
        if ($json) {
            $flags = JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR;
            $output->writeln(json_encode($report->toArray(), $flags));
            return;
        }
        $summary = $report->toArray();
        $output->writeln(sprintf(
            'daemon: %s (pid %s), region %s',
            $summary['daemon'],
            $summary['daemon_pid'] ?: '-',
            $summary['region_state'],
        ));
        $output->writeln(sprintf(
            'positions: committed %d, projected %d, lag %d; workers attached: %d',
            $summary['committed'],
            $summary['projected'],
            $summary['lag'],
            $summary['workers'],
        ));
        $output->writeln('connection: ' . $summary['connection']);
        $table = new Table($output);
        $table->setHeaders(['projector / reactor', 'kind', 'checkpoint', 'lag', 'status', 'progress']);
        foreach ($report->handlers as $handler) {
            $table->addRow([
                $handler->name,
                $handler->kind,
                $handler->checkpoint ?? '-',
                $handler->lag ?? '-',
                $handler->statusName(),
                $handler->progress(),
            ]);
        }
        $table->render();
        foreach ($report->handlers as $handler) {
            if ($handler->isFailed() || $handler->isPaused() || $handler->rebuild !== null) {
                // The full story (exception, handler, event) is too wide for a table cell.
                $output->writeln("$handler->name: " . $handler->summary());
            }
        }
        foreach ($report->failed() as $handler) {
            $output->writeln("  fix the cause, then: eventsrv:retry $handler->name");
        }
    }
}
