<?php

/**
 * AccountProjector: keeps the Account read models in step with the account events. Runs in the
 * projector worker (worker.php); a replay empties Account and runs these handlers again.
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\Projector;

final class AccountProjector extends Projector
{
    public function entities(): array
    {
        return [Account::class];
    }

    public function onAccountCreated(AccountCreated $event): void
    {
        $account = new Account();
        $account->uuid = $event->meta()->aggregateUuid();
        $account->name = $event->name;
        $account->balance = 0;
        $account->save();
    }

    public function onBalanceIncreased(BalanceIncreased $event): void
    {
        $account = $this->account($event->meta()->aggregateUuid());
        $account->balance += $event->amount;
        $account->save();
    }

    public function onBalanceDecreased(BalanceDecreased $event): void
    {
        $account = $this->account($event->meta()->aggregateUuid());
        $account->balance -= $event->amount;
        $account->save();
    }

    private function account(string $uuid): Account
    {
        return Account::find($uuid)
            ?? throw new \LogicException("account $uuid has events but no AccountCreated was projected");
    }
}
