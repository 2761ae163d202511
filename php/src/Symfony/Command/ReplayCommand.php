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
 * `bin/console eventsrv:replay [Projector ...]`: rebuilds projections from the first event (all
 * projectors, or the named ones) behind a progress bar. Reactors do not run.
 */
#[AsCommand(name: 'eventsrv:replay', description: 'Rebuild eventsrv projections from the first event')]
final class ReplayCommand extends Command
{
    public function __construct(private readonly Handlers $handlers)
    {
        parent::__construct('eventsrv:replay');
    }

    protected function configure(): void
    {
        $this
            ->setDescription('Rebuild eventsrv projections from the first event')
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
        $output->writeln("<info>Replayed $replayed event(s).</info>");
        return 0;
    }
}
