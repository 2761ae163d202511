<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\AggregateRoot;

final class BankAccount extends AggregateRoot
{
    public string $name = '';

    public int $balance = 0;

    public bool $closed = false;

    /** @var list<string> */
    public array $applied = [];

    public static function open(string $name): self
    {
        return self::new()->recordThat(new AccountOpened($name));
    }

    public function add(int $amount): self
    {
        return $this->event(new MoneyAdded($amount));
    }

    public function subtract(int $amount): self
    {
        if ($amount > $this->balance) {
            throw new \DomainException("cannot subtract $amount from {$this->balance}");
        }
        return $this->event(new MoneySubtracted($amount));
    }

    public function close(): self
    {
        return $this->event(new AccountClosed('done'));
    }

    protected function applyAccountOpened(AccountOpened $event): void
    {
        $this->name = $event->name;
        $this->applied[] = 'opened';
    }

    public function applyMoneyAdded(MoneyAdded $event): void
    {
        $this->balance += $event->amount;
        $this->applied[] = 'added';
    }

    protected function applyMoneySubtracted(MoneySubtracted $event): void
    {
        $this->balance -= $event->amount;
        $this->applied[] = 'subtracted';
    }

    // no applyAccountClosed on purpose: events without an apply method are fine
}
