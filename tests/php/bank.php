<?php
// Drives the bank example from the command line for the end-to-end tests:
//   bank.php create <name>              prints the new account's uuid
//   bank.php increase|decrease <uuid> <amount>   prints "ok" or "<ExceptionClass>: <message>"
//   bank.php show <uuid>                prints Account::find() as JSON (null if absent)
//   bank.php list                       prints Account::all() as JSON (insertion order)
require_once __DIR__ . '/../../examples/bank/autoload.php';

use Bank\Account;
use Bank\AccountAggregateRoot;

$command = $argv[1] ?? '';
switch ($command) {
    case 'create':
        echo AccountAggregateRoot::create($argv[2])->persist()->uuid(), "\n";
        break;
    case 'increase':
    case 'decrease':
        try {
            $account = AccountAggregateRoot::retrieve($argv[2]);
            $command === 'increase'
                ? $account->increaseBalance((int) $argv[3])->persist()
                : $account->decreaseBalance((int) $argv[3])->persist();
            echo "ok\n";
        } catch (Throwable $e) {
            echo get_class($e), ': ', $e->getMessage(), "\n";
        }
        break;
    case 'show':
        echo json_encode(Account::find($argv[2])), "\n";
        break;
    case 'list':
        echo json_encode(Account::all()), "\n";
        break;
    default:
        fwrite(STDERR, "usage: bank.php create|increase|decrease|show|list ...\n");
        exit(2);
}
