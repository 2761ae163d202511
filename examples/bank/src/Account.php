<?php

/**
 * Account: the read model of a bank account, as requests see it (Account::find(), ::all(),
 * ::query()). Built by AccountProjector from the account's events; never changed in a request.
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\Entity;

final class Account extends Entity
{
    public string $name;

    public int $balance = 0;
}
