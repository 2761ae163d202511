<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\AggregateRoot;
use EventSrv\Event;

final class Piggybank extends AggregateRoot
{
    /** @var list<string> */
    public array $deposits = [];

    public function deposit(int $cents, string $currency = 'EUR'): self
    {
        return $this->event(new Deposited($cents, $currency));
    }

    /** Any event, for tests that mix classes in one persist(). */
    public function record(Event $event): self
    {
        return $this->recordThat($event);
    }

    protected function applyDeposited(Deposited $event): void
    {
        $this->deposits[] = $event->cents . ' ' . $event->currency;
    }
}
