<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Command;

use EventSrv\Symfony\Console\ReplayProgress;
use EventSrv\Symfony\Handlers;
use EventSrv\WorkerOptions;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * `bin/console eventsrv:replay [Projector ...]`: rebuilds projections (all, or the named ones)
 * beside the live ones, which keep serving, and swaps each in atomically at the head
 * (Worker::rebuild()), behind a progress bar with events/s and ETA. Reactors do not run.
 */
#[AsCommand(name: 'eventsrv:replay', description: 'Rebuild eventsrv projections beside the live ones and swap them in')]
final class ReplayCommand extends Command
{
    public function __construct(private readonly Handlers $handlers)
    {
        parent::__construct('eventsrv:replay');
    }

    protected function configure(): void
    {
        $this
            ->setDescription('Rebuild eventsrv projections beside the live ones and swap them in')
            ->addArgument(
                'projector',
                InputArgument::IS_ARRAY | InputArgument::OPTIONAL,
                'Projectors to rebuild (checkpoint names, class names or short class names); all when omitted',
            );
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $worker = $this->handlers->worker(new WorkerOptions(), static function (string $line) use ($output): void {
            if ($output->isVerbose()) {
                $output->writeln($line);
            }
        });
        try {
            $replayed = ReplayProgress::run($worker, array_values($input->getArgument('projector')), $output);
        } catch (\InvalidArgumentException $invalid) {
            $output->writeln('<error>' . $invalid->getMessage() . '</error>');
            return 2;
        } catch (\Throwable $failure) {
            $output->writeln('<error>Replay failed: ' . $failure::class . ': ' . $failure->getMessage() . '</error>');
            return 1;
        }
        $output->writeln("<info>Replayed $replayed event(s) beside the live projection and swapped it in.</info>");
        return 0;
    }
}
