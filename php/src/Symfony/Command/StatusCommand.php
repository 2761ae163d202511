<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Command;

use EventSrv\RegionException;
use EventSrv\Status\StatusReport;
use EventSrv\Status\StatusTable;
use EventSrv\Symfony\Handlers;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * `bin/console eventsrv:status [--json]`: positions, lag, and each projector's and reactor's status and
 * checkpoint. Exit status 3 when the daemon does not answer (like `eventsrv status`).
 */
#[AsCommand(name: 'eventsrv:status', description: 'Show eventsrv positions, lag and projector status')]
final class StatusCommand extends Command
{
    public function __construct(private readonly Handlers $handlers)
    {
        parent::__construct('eventsrv:status');
    }

    protected function configure(): void
    {
        $this
            ->setDescription('Show eventsrv positions, lag and projector status')
            ->addOption('json', null, InputOption::VALUE_NONE, 'Print JSON for scripts');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $report = StatusReport::collect($this->handlers->projectors(), $this->handlers->reactors());
        } catch (RegionException $unreadable) {
            $output->writeln('<error>' . $unreadable->getMessage() . '</error>');
            return 3;
        }
        StatusTable::render($report, $output, (bool) $input->getOption('json'));
        return $report->daemonAnswers ? 0 : 3;
    }
}
