<?php

/**
 * LargeDepositReactor: a side effect, to show reactors: every deposit of at least THRESHOLD is
 * written as one line to a log file (storage/large-deposits.log by default), the way a real app
 * would send a notification. At-least-once: after a crash a line may be written twice.
 */

declare(strict_types=1);

namespace Bank;

use EventSrv\Reactor;

final class LargeDepositReactor extends Reactor
{
    public const THRESHOLD = 10_000;

    private string $file;

    public function __construct(?string $file = null)
    {
        $this->file = $file ?? \dirname(__DIR__) . '/storage/large-deposits.log';
    }

    public function onBalanceIncreased(BalanceIncreased $event): void
    {
        if ($event->amount < self::THRESHOLD) {
            return;
        }
        $meta = $event->meta();
        $name = Account::find($meta->aggregateUuid())?->name ?? '?';
        $directory = \dirname($this->file);
        if (!is_dir($directory) && !mkdir($directory, 0777, true) && !is_dir($directory)) {
            throw new \RuntimeException("cannot create $directory");
        }
        $line = sprintf(
            "%s event #%d: %d paid into %s (%s)\n",
            $meta->recordedAt()->format('Y-m-d H:i:s'),
            $meta->position(),
            $event->amount,
            $name,
            $meta->aggregateUuid(),
        );
        if (file_put_contents($this->file, $line, FILE_APPEND | LOCK_EX) === false) {
            throw new \RuntimeException("cannot write {$this->file}");
        }
    }
}
