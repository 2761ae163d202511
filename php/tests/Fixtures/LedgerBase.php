<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\AggregateRoot;

/** A parent with private state of its own, and a private property its child also declares. */
abstract class LedgerBase extends AggregateRoot
{
    /** @var list<int> */
    private array $history = [];

    private string $secret = 'parent';

    protected function remember(int $amount): void
    {
        $this->history[] = $amount;
        $this->secret = 'parent saw ' . \count($this->history);
    }

    /** @return array{history: list<int>, secret: string} */
    public function parentState(): array
    {
        return ['history' => $this->history, 'secret' => $this->secret];
    }
}
