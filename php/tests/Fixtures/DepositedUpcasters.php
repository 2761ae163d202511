<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\EventMeta;
use EventSrv\Upcaster;

/** Counts the upcasts it ran, to prove which steps of a chain run. */
final class DepositedUpcasters
{
    /** @var list<string> */
    public static array $ran = [];

    /** @return array<int, Upcaster> */
    public static function chain(): array
    {
        return [1 => new EurosToCents(), 2 => new AddCurrency()];
    }
}

final class EurosToCents implements Upcaster
{
    public function upcast(array $payload, EventMeta $meta): array
    {
        DepositedUpcasters::$ran[] = "1->2 at {$meta->position()}";
        return ['cents' => $payload['amount'] * 100];
    }
}

final class AddCurrency implements Upcaster
{
    public function upcast(array $payload, EventMeta $meta): array
    {
        DepositedUpcasters::$ran[] = "2->3 at {$meta->position()}";
        return $payload + ['currency' => 'EUR'];
    }
}
