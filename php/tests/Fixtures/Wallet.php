<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Entity;

final class Wallet extends Entity
{
    public string $name;

    public int $balance = 0;

    /** How many wallets this projector saw when it created this one (overlay visibility). */
    public int $seenWhenCreated = 0;
}
