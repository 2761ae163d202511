<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Command;

use EventSrv\Symfony\Handlers;
use EventSrv\WorkerOptions;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * `bin/console eventsrv:work`: the projector worker (EventSrv\Worker) with the app's projectors
 * and reactors. Stops cleanly on SIGTERM/SIGINT (after the current batch) and when a limit is
 * reached, exiting 0 so a supervisor (systemd) starts it again.
 */
#[AsCommand(name: 'eventsrv:work', description: 'Run the eventsrv projectors and reactors')]
final class WorkCommand extends Command
{
    /** @param array{batch_size: int, sleep_ms: int, memory_limit: int, max_time: int, max_events: int} $defaults */
    public function __construct(private readonly Handlers $handlers, private readonly array $defaults)
    {
        parent::__construct('eventsrv:work');
    }

    protected function configure(): void
    {
        $this
            ->setDescription('Run the eventsrv projectors and reactors')
            ->addOption('once', null, InputOption::VALUE_NONE, 'Process the events there are, then exit')
            ->addOption('max-events', null, InputOption::VALUE_REQUIRED, 'Stop after about this many events (0: no limit)')
            ->addOption('max-time', null, InputOption::VALUE_REQUIRED, 'Stop after about this many seconds (0: no limit)')
            ->addOption('memory-limit', null, InputOption::VALUE_REQUIRED, 'Stop above this many megabytes (0: no limit)')
            ->addOption('batch-size', null, InputOption::VALUE_REQUIRED, 'Events per batch and commit (at most 10000)')
            ->addOption('sleep-ms', null, InputOption::VALUE_REQUIRED, 'Longest single wait for new events, in milliseconds');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        if (!\extension_loaded('eventsrv')) {
            $output->writeln('<error>The eventsrv extension is not loaded: add extension=eventsrv.so to php.ini.</error>');
            return 2;
        }
        try {
            $worker = $this->handlers->worker($this->options($input), static function (string $line) use ($output): void {
                $output->writeln(sprintf('[%s] %s', date('Y-m-d H:i:s'), $line));
            });
        } catch (\InvalidArgumentException $invalid) {
            $output->writeln('<error>' . $invalid->getMessage() . '</error>');
            return 2;
        }
        if ($input->getOption('once')) {
            try {
                $count = $worker->runOnce();
            } catch (\Throwable $failure) {
                $output->writeln('<error>' . $failure::class . ': ' . $failure->getMessage() . '</error>');
                return 1;
            }
            $output->writeln("Processed $count event(s).");
            return 0;
        }
        return $worker->run();
    }

    private function options(InputInterface $input): WorkerOptions
    {
        $value = function (string $option, string $setting) use ($input): int {
            $given = $input->getOption($option);
            if ($given === null) {
                return (int) $this->defaults[$setting];
            }
            if (preg_match('/^\d+$/', (string) $given) !== 1) {
                throw new \InvalidArgumentException("--$option expects a whole number, got '$given'");
            }
            return (int) $given;
        };
        return new WorkerOptions(
            batchSize: $value('batch-size', 'batch_size'),
            maxEvents: $value('max-events', 'max_events'),
            maxTimeSeconds: $value('max-time', 'max_time'),
            memoryLimitMb: $value('memory-limit', 'memory_limit'),
            sleepMs: $value('sleep-ms', 'sleep_ms'),
        );
    }
}
