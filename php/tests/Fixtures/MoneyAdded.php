<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Event;

final class MoneyAdded extends Event
{
    public function __construct(public readonly int $amount)
    {
    }
}
