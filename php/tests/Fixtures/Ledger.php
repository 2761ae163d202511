<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

/** An aggregate whose state is mostly not public, for snapshots. */
final class Ledger extends LedgerBase
{
    /** Set per test: snapshot() each time the version passes a multiple of it. */
    public static int $every = 0;

    /** Set per test: the shape of the state. */
    public static int $shape = 1;

    /** Set per test: count apply calls, to see what a retrieve replayed. */
    public static int $applied = 0;

    public int $count = 0;

    protected ?string $lastNote = null;

    private int $total = 0;

    private string $secret = 'child';

    private ?\DateTimeImmutable $openedAt = null;

    /** @var mixed anything a test puts there */
    public mixed $extra = null;

    public function add(int $amount): self
    {
        return $this->event(new MoneyAdded($amount));
    }

    protected function applyMoneyAdded(MoneyAdded $event): void
    {
        self::$applied++;
        $this->count++;
        $this->total += $event->amount;
        $this->lastNote = "added $event->amount";
        $this->secret = 'child saw ' . $this->count;
        $this->openedAt ??= new \DateTimeImmutable('2024-01-02T03:04:05.123456+00:00');
        $this->remember($event->amount);
    }

    /** @return array<string, mixed> */
    public function state(): array
    {
        return [
            'count' => $this->count,
            'lastNote' => $this->lastNote,
            'total' => $this->total,
            'secret' => $this->secret,
            'openedAt' => $this->openedAt?->format(DATE_ATOM),
            'parent' => $this->parentState(),
            'version' => $this->version(),
        ];
    }

    protected function snapshotEvery(): int
    {
        return self::$every;
    }

    protected function snapshotVersion(): int
    {
        return self::$shape;
    }
}
