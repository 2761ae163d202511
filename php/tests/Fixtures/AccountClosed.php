<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Event;
use EventSrv\EventName;

#[EventName('account.closed')]
final class AccountClosed extends Event
{
    public function __construct(public readonly string $reason = '')
    {
    }
}
