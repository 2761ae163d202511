<?php
/**
 * Quick latency figures from one PHP process against a running daemon (not a pass/fail test):
 *
 *   php -n -d extension=target/release/eventsrv.so -d eventsrv.socket=... -d eventsrv.region=... \
 *       php/bench/latency.php [accounts=1000] [finds=100000] [persists=2000]
 *
 * Creates <accounts> bank accounts (once), then times Account::find() (random ids, hydrated
 * objects), Account::all(), and retrieve()->increaseBalance()->persist() (one event, durable,
 * waiting for the projection when a worker is attached). Prints medians and percentiles in µs.
 */

declare(strict_types=1);

require_once __DIR__ . '/../../examples/bank/autoload.php';

use Bank\Account;
use Bank\AccountAggregateRoot;

$accounts = (int) ($argv[1] ?? 1000);
$finds = (int) ($argv[2] ?? 100_000);
$persists = (int) ($argv[3] ?? 2000);

function percentile(array $samples, float $p): float
{
    sort($samples);
    return $samples[(int) min(count($samples) - 1, floor($p * count($samples)))];
}

function report(string $what, array $samples_us): void
{
    printf(
        "%-44s n=%-7d p50 %8.2f µs  p90 %8.2f µs  p99 %8.2f µs\n",
        $what,
        count($samples_us),
        percentile($samples_us, 0.50),
        percentile($samples_us, 0.90),
        percentile($samples_us, 0.99)
    );
}

while (Account::count() < $accounts) {
    AccountAggregateRoot::create('bench ' . Account::count())->persist();
}
$uuids = array_map(fn (Account $a) => $a->uuid, Account::all());

// find(): batches of 100 calls timed together, so the clock's own cost stays out.
$samples = [];
for ($i = 0; $i < $finds / 100; $i++) {
    $picks = [];
    for ($j = 0; $j < 100; $j++) {
        $picks[] = $uuids[mt_rand(0, count($uuids) - 1)];
    }
    $start = hrtime(true);
    foreach ($picks as $uuid) {
        $account = Account::find($uuid);
    }
    $samples[] = (hrtime(true) - $start) / 100 / 1000;
}
report('Account::find() -> object', $samples);

$samples = [];
for ($i = 0; $i < 200; $i++) {
    $start = hrtime(true);
    $all = Account::all();
    $samples[] = (hrtime(true) - $start) / 1000;
}
report('Account::all() of ' . count($all) . ' objects', $samples);

$samples = [];
for ($i = 0; $i < $persists; $i++) {
    $uuid = $uuids[$i % count($uuids)];
    $start = hrtime(true);
    AccountAggregateRoot::retrieve($uuid)->increaseBalance(1)->persist();
    $samples[] = (hrtime(true) - $start) / 1000;
}
report('retrieve()->increaseBalance()->persist()', $samples);
