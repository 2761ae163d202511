<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Projector;

final class WalletProjector extends Projector
{
    /** @var list<string> */
    public array $log = [];

    /** Throw when handling MoneyAdded with this amount. */
    public ?int $failOnAmount = null;

    public function entities(): array
    {
        return [Wallet::class];
    }

    public function onAccountOpened(AccountOpened $event): void
    {
        $wallet = new Wallet();
        $wallet->uuid = $event->meta()->aggregateUuid();
        $wallet->name = $event->name;
        $wallet->seenWhenCreated = Wallet::count();
        $wallet->save();
        $this->log[] = 'opened ' . $event->name;
    }

    public function onMoneyAdded(MoneyAdded $event): void
    {
        if ($event->amount === $this->failOnAmount) {
            throw new \RuntimeException("refusing amount $event->amount");
        }
        $wallet = Wallet::find($event->meta()->aggregateUuid()) ?? throw new \LogicException('wallet missing');
        $wallet->balance += $event->amount;
        $wallet->save();
        $this->log[] = 'added ' . $event->amount;
    }

    public function onMoneySubtracted(MoneySubtracted $event): void
    {
        $wallet = Wallet::find($event->meta()->aggregateUuid()) ?? throw new \LogicException('wallet missing');
        $wallet->balance -= $event->amount;
        $wallet->save();
        $this->log[] = 'subtracted ' . $event->amount;
    }

    public function whenClosed(AccountClosed $event): void
    {
        Wallet::find($event->meta()->aggregateUuid())?->delete();
        $this->log[] = 'closed';
    }
}
