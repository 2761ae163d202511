<?php

/**
 * BalanceDecreased: money was taken out of an account (amount > 0, never below a zero balance).
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\Event;

final class BalanceDecreased extends Event
{
    public function __construct(public readonly int $amount)
    {
    }
}
