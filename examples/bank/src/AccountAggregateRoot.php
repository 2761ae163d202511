<?php

/**
 * AccountAggregateRoot: the write side of a bank account. Commands check the rules against the
 * state rebuilt from the account's events and record new events:
 *
 *     $uuid = AccountAggregateRoot::create('Ada')->persist()->uuid();
 *     AccountAggregateRoot::retrieve($uuid)->increaseBalance(100)->persist();
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\AggregateRoot;

final class AccountAggregateRoot extends AggregateRoot
{
    private int $balance = 0;

    public static function create(string $name): static
    {
        $name = trim($name);
        if ($name === '') {
            throw InvalidAccountName::empty();
        }
        if (preg_match_all('/./su', $name) > InvalidAccountName::LENGTH_MAX) { // characters; mbstring is optional
            throw InvalidAccountName::tooLong();
        }
        return static::new()->recordThat(new AccountCreated($name));
    }

    public function increaseBalance(int $amount): static
    {
        if ($amount <= 0) {
            throw InvalidAmount::notPositive($amount);
        }
        return $this->recordThat(new BalanceIncreased($amount));
    }

    public function decreaseBalance(int $amount): static
    {
        if ($amount <= 0) {
            throw InvalidAmount::notPositive($amount);
        }
        if ($amount > $this->balance) {
            throw CouldNotDecreaseBalance::insufficientFunds($this->balance, $amount);
        }
        return $this->recordThat(new BalanceDecreased($amount));
    }

    public function balance(): int
    {
        return $this->balance;
    }

    protected function applyBalanceIncreased(BalanceIncreased $event): void
    {
        $this->balance += $event->amount;
    }

    protected function applyBalanceDecreased(BalanceDecreased $event): void
    {
        $this->balance -= $event->amount;
    }
}
