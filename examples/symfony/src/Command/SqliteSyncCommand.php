<?php

declare(strict_types=1);

namespace App\Command;

use Bank\Account;
use Bank\Baseline\SqliteAccounts;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

/** `bin/console bank:sqlite-sync`: copies the accounts into the SQLite baseline (load test set-up). */
#[AsCommand(name: 'bank:sqlite-sync', description: 'Copy the accounts from eventsrv into the SQLite baseline')]
final class SqliteSyncCommand extends Command
{
    public function __construct(private readonly SqliteAccounts $sqlite)
    {
        parent::__construct('bank:sqlite-sync');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $output->writeln(sprintf('%d account(s) copied to SQLite.', $this->sqlite->replaceAll(Account::all())));
        return Command::SUCCESS;
    }
}
