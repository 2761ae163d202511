<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Event;
use EventSrv\Reactor;

final class RecordingReactor extends Reactor
{
    /** @var list<int> positions handled */
    public array $positions = [];

    /** @var list<?int> balance of the wallet as the reactor saw it */
    public array $balancesSeen = [];

    /** @var (\Closure(Event): void)|null */
    public ?\Closure $onEvent = null;

    public function onMoneyAdded(MoneyAdded $event): void
    {
        $this->record($event);
        $this->balancesSeen[] = Wallet::find($event->meta()->aggregateUuid())?->balance;
    }

    public function onAccountOpened(AccountOpened $event): void
    {
        $this->record($event);
    }

    private function record(Event $event): void
    {
        $this->positions[] = $event->meta()->position();
        if ($this->onEvent !== null) {
            ($this->onEvent)($event);
        }
    }
}
