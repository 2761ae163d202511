<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Event;
use EventSrv\EventName;
use EventSrv\EventVersion;

/**
 * Version 3 of a deposit. v1 stored ['amount' => whole euros] under the class name
 * EventSrv\Tests\Fixtures\MoneyDeposited; v2 stored ['cents' => int] under 'wallet.deposited';
 * v3 adds the currency.
 */
#[EventName('wallet.deposited', aliases: ['EventSrv\Tests\Fixtures\MoneyDeposited'])]
#[EventVersion(3)]
final class Deposited extends Event
{
    public function __construct(public readonly int $cents, public readonly string $currency)
    {
    }
}
