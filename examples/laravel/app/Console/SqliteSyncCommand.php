<?php

declare(strict_types=1);

namespace App\Console;

use Bank\Baseline\SqliteAccounts;
use Bank\Account;
use Illuminate\Console\Command;

/** `php artisan bank:sqlite-sync`: copies the accounts into the SQLite baseline (load test set-up). */
final class SqliteSyncCommand extends Command
{
    /** @var string */
    protected $signature = 'bank:sqlite-sync';

    /** @var string */
    protected $description = 'Copy the accounts from eventsrv into the SQLite baseline';

    public function handle(SqliteAccounts $sqlite): int
    {
        $this->info(sprintf('%d account(s) copied to SQLite.', $sqlite->replaceAll(Account::all())));
        return 0;
    }
}
