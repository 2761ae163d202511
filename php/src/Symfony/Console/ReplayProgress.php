<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Console;

use EventSrv\ProjectorRebuildProgress;
use EventSrv\Worker;
use Symfony\Component\Console\Helper\ProgressBar;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * Runs Worker::rebuild() (beside the live projection, swapped in at the head) behind a progress
 * bar with events/s and ETA, for `eventsrv:replay` in Laravel and Symfony. The worker reports
 * after every committed batch; the bar's maximum follows the head as events keep coming.
 */
final class ReplayProgress
{
    /**
     * @param list<string> $projectorNames names, class names or short class names; [] = all
     * @return int events processed by the rebuilds
     */
    public static function run(Worker $worker, array $projectorNames, OutputInterface $output): int
    {
        $bar = new ProgressBar($output, 1);
        $bar->setFormat(' %projector% %current%/%max% events [%bar%] %percent:3s%% %rate% events/s ETA %eta%');
        $bar->setMessage('', 'projector');
        $bar->setMessage('0', 'rate');
        $bar->setMessage('?', 'eta');
        $bar->start();
        $report = static function (ProjectorRebuildProgress $progress) use ($bar): void {
            $bar->setMessage($progress->projector, 'projector');
            $bar->setMaxSteps(max(1, $progress->head));
            $bar->setMessage((string) (int) round($progress->eventsPerSecond()), 'rate');
            $eta = $progress->etaSeconds();
            $bar->setMessage($eta === null ? '?' : sprintf('%d:%02d', intdiv((int) $eta, 60), (int) $eta % 60), 'eta');
            $bar->setProgress(min($progress->position, max(1, $progress->head)));
        };
        try {
            $processed = $worker->rebuild($projectorNames, $report);
        } catch (\Throwable $failure) {
            $output->writeln(''); // the error message gets its own line, not the end of the bar
            throw $failure;
        }
        $bar->finish();
        $output->writeln('');
        return $processed;
    }
}
