<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\AggregateRoot;

final class Piggybank extends AggregateRoot
{
    /** @var list<string> */
    public array $deposits = [];

    public function deposit(int $cents, string $currency = 'EUR'): self
    {
        return $this->event(new Deposited($cents, $currency));
    }

    protected function applyDeposited(Deposited $event): void
    {
        $this->deposits[] = $event->cents . ' ' . $event->currency;
    }
}
