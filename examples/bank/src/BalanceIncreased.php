<?php

/**
 * BalanceIncreased: money was paid into an account (amount > 0, in whole units).
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\Event;

final class BalanceIncreased extends Event
{
    public function __construct(public readonly int $amount)
    {
    }
}
