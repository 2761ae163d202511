<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Projector;

final class DepositProjector extends Projector
{
    /** @var list<string> */
    public array $seen = [];

    public function onDeposited(Deposited $event): void
    {
        $this->seen[] = $event->cents . ' ' . $event->currency . ' (stored v' . $event->meta()->eventVersion() . ')';
    }
}
