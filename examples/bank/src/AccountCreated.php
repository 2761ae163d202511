<?php

/**
 * AccountCreated: an account was opened under a name. The stream (aggregate uuid) is the account.
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\Event;

final class AccountCreated extends Event
{
    public function __construct(public readonly string $name)
    {
    }
}
