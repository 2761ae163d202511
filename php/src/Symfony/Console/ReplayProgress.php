<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Console;

use EventSrv\Native;
use EventSrv\Worker;
use Symfony\Component\Console\Helper\ProgressBar;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * Runs Worker::replay() behind a progress bar (`eventsrv:replay`).
 *
 * The Worker reports nothing between batches, but every batch it commits moves the projected
 * position in shared memory (the lowest projector checkpoint, i.e. the replay's progress), so a
 * once-a-second SIGALRM tick reads that position and advances the bar. Without pcntl the bar
 * jumps from start to end.
 */
final class ReplayProgress
{
    private const TICK_SECONDS = 1;

    /**
     * @param list<string> $projectorNames names, class names or short class names; [] = all
     * @return int events replayed
     */
    public static function run(Worker $worker, array $projectorNames, OutputInterface $output): int
    {
        $head = (int) Native::positions()['committed'];
        $bar = new ProgressBar($output, max(1, $head));
        $bar->setFormat(' %current%/%max% events [%bar%] %percent:3s%% %elapsed:6s%');
        $bar->start();

        $ticking = \function_exists('pcntl_alarm') && \function_exists('pcntl_async_signals');
        if ($ticking) {
            pcntl_async_signals(true);
            pcntl_signal(SIGALRM, static function () use ($bar, $head): void {
                $bar->setProgress(min($head, (int) Native::positions()['projected']));
                pcntl_alarm(self::TICK_SECONDS);
            });
            pcntl_alarm(self::TICK_SECONDS);
        }
        try {
            $replayed = $worker->replay($projectorNames);
        } catch (\Throwable $failure) {
            $output->writeln(''); // the error message gets its own line, not the end of the bar
            throw $failure;
        } finally {
            if ($ticking) {
                pcntl_alarm(0);
                pcntl_signal(SIGALRM, SIG_DFL);
            }
        }
        $bar->setProgress(max(1, $head));
        $bar->finish();
        $output->writeln('');
        return $replayed;
    }
}
