<?php

/**
 * The bank example's domain tests, written the way an app tests its aggregates and projectors
 * with eventsrv: no daemon, no extension, plain PHPUnit.
 */

declare(strict_types=1);

namespace Bank\Tests;

use Bank\Account;
use Bank\AccountAggregateRoot;
use Bank\AccountCreated;
use Bank\AccountProjector;
use Bank\BalanceDecreased;
use Bank\BalanceIncreased;
use Bank\CouldNotDecreaseBalance;
use EventSrv\Testing\ProjectorScenario;
use PHPUnit\Framework\TestCase;

final class AccountTest extends TestCase
{
    public function testIncreasingTheBalanceRecordsBalanceIncreased(): void
    {
        AccountAggregateRoot::fake()
            ->given([new AccountCreated('Ada')])
            ->when(fn (AccountAggregateRoot $account) => $account->increaseBalance(10))
            ->assertRecorded(new BalanceIncreased(10));
    }

    public function testTheBalanceCannotGoBelowZero(): void
    {
        $this->expectException(CouldNotDecreaseBalance::class);
        AccountAggregateRoot::fake()
            ->given([new AccountCreated('Ada'), new BalanceIncreased(5)])
            ->when(fn (AccountAggregateRoot $account) => $account->decreaseBalance(6));
    }

    public function testTheProjectorKeepsTheBalance(): void
    {
        ProjectorScenario::for(new AccountProjector())
            ->given('acc-1', [new AccountCreated('Ada'), new BalanceIncreased(10), new BalanceDecreased(3)])
            ->run();
        self::assertSame(7, Account::find('acc-1')->balance);
    }
}
