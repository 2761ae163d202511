<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Console;

use Symfony\Component\Console\Helper\Table;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * Prints a StatusReport for people (`eventsrv:status`) or as JSON for scripts (`--json`).
 */
final class StatusTable
{
    public static function render(StatusReport $report, OutputInterface $output, bool $json): void
    {
        if ($json) {
            $output->writeln(json_encode($report->toArray(), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR));
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
        $table->setHeaders(['projector / reactor', 'kind', 'checkpoint', 'lag', 'status']);
        foreach ($report->handlers as $row) {
            $table->addRow([$row['name'], $row['kind'], $row['checkpoint'] ?? '-', $row['lag'] ?? '-', $row['status']]);
        }
        $table->render();
    }
}
