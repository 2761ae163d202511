<?php

declare(strict_types=1);

namespace EventSrv\Symfony\Command;

use EventSrv\ProjectorStatus;
use EventSrv\Symfony\Handlers;
use EventSrv\WorkerOptions;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * The operator's status changes: `bin/console eventsrv:retry|pause|resume {projector}`. One
 * commit of the projector's status entity (Worker::setStatus()), which running workers pick up
 * at their next batch; retry and resume make it active (a failed one runs again from the event
 * it failed on), pause makes the workers skip it. Exit 2 for a projector the app does not have,
 * 1 when the commit fails.
 *
 * One class registered under the three names (EventSrvExtension::OPERATOR_COMMANDS): they differ
 * only in the status they set and what they say.
 */
final class ProjectorStatusCommand extends Command
{
    public function __construct(
        private readonly Handlers $handlers,
        string $name,
        private readonly string $status,
        private readonly string $summary,
    ) {
        if (!\in_array($status, [ProjectorStatus::ACTIVE, ProjectorStatus::PAUSED], true)) {
            throw new \InvalidArgumentException("$name: a projector can be set active or paused, not $status");
        }
        parent::__construct($name);
    }

    protected function configure(): void
    {
        $this
            ->setDescription($this->summary)
            ->addArgument(
                'projector',
                InputArgument::REQUIRED,
                'Checkpoint name, class name or short class name of the projector',
            );
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $projector = (string) $input->getArgument('projector');
        try {
            $said = $this->handlers->worker(new WorkerOptions())->setStatus($projector, $this->status);
        } catch (\InvalidArgumentException $invalid) {
            $output->writeln('<error>' . $invalid->getMessage() . '</error>');
            return 2;
        } catch (\Throwable $failure) {
            $output->writeln('<error>' . $failure::class . ': ' . $failure->getMessage() . '</error>');
            return 1;
        }
        $output->writeln("<info>$said</info>");
        return 0;
    }
}
