<?php

/**
 * Single-client write latency, taken apart: the disk's own fdatasync, a socket round trip
 * (Native::ping()), a raw Native::append() of one event, and AggregateRoot::persist() of one
 * event. The four are measured interleaved, one sample of each per round (the order rotating
 * from round to round), so all of them see the same disk: its fdatasync cost swings several
 * times over between minutes here, and measured one after another the steps were not
 * comparable. The persist() row also carries the median of the per-round differences
 * persist() − disk (`gap_us`): what eventsrv adds to one fdatasync.
 *
 * With --with-worker a projector worker is attached, so persist() also waits for the
 * projection, as a request would (that row alone is measured).
 *
 *   php bench/php/persist_latency.php <count> [--with-worker]
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

use Bank\AccountAggregateRoot;
use Bank\AccountCreated;
use Bank\BalanceIncreased;
use EventSrv\Native;

$count = (int) ($argv[1] ?? 1000);
$withWorker = in_array('--with-worker', $argv, true);
if ($count < 1) {
    throw new InvalidArgumentException("count must be at least 1, got {$argv[1]}");
}

/** Percentiles of microsecond samples, as the report reads them. */
function latency_numbers(array $samples): array
{
    return ['p50_us' => median($samples), 'p99_us' => percentile($samples, 0.99), 'n' => count($samples)];
}

if ($withWorker) {
    for ($i = 0; $i < 100 && Native::positions()['workers'] < 1; $i++) {
        usleep(50_000);
    }
    if (Native::positions()['workers'] < 1) {
        throw new RuntimeException('no projector worker attached');
    }
    // Let the worker catch up with everything appended before (scenario 3) first.
    $target = Native::positions()['committed'];
    while (!Native::waitForProjection($target, 1000)) {
        note('worker catching up: projected ' . Native::positions()['projected'] . " of $target");
    }
    $aggregate = AccountAggregateRoot::create('latency probe (worker)');
    $aggregate->persist();
    $samples = [];
    for ($i = 0; $i < $count; $i++) {
        $t = hrtime(true);
        $aggregate->increaseBalance(1)->persist();
        $samples[] = (hrtime(true) - $t) / 1000;
    }
    result('latency', 'persist() of 1 event, worker attached (waits for projection)', 'eventsrv', latency_numbers($samples));
    exit(0);
}

$probePath = bench_dir() . '/fdatasync.probe';
$probe = fopen($probePath, 'w');
if ($probe === false) {
    throw new RuntimeException("cannot create the disk probe file $probePath");
}
$record = str_repeat('x', 200);
$stream = uuid_v4();
Native::append($stream, 0, [new AccountCreated('raw append probe')], [[]]);
$appended = 0;
$aggregate = AccountAggregateRoot::create('latency probe');
$aggregate->persist();
Native::ping();

// One step per case, in report order; each returns its sample in µs.
$steps = [
    // The disk's own cost: append ~200 bytes + fdatasync, on the same file system as the stores.
    'write 200 B + fdatasync (the disk)' => static function () use ($probe, $record): float {
        $t = hrtime(true);
        fwrite($probe, $record);
        fdatasync($probe);
        return (hrtime(true) - $t) / 1000;
    },
    'Native::ping() (socket round trip)' => static function (): float {
        $t = hrtime(true);
        Native::ping();
        return (hrtime(true) - $t) / 1000;
    },
    'Native::append() of 1 event' => static function () use ($stream, &$appended): float {
        $appended++;
        $t = hrtime(true);
        Native::append($stream, $appended, [new BalanceIncreased(1)], [[]]);
        return (hrtime(true) - $t) / 1000;
    },
    'persist() of 1 event, no worker attached' => static function () use ($aggregate): float {
        $t = hrtime(true);
        $aggregate->increaseBalance(1)->persist();
        return (hrtime(true) - $t) / 1000;
    },
];
$cases = array_keys($steps);
$samples = array_fill_keys($cases, []);
$gaps = [];
for ($round = 0; $round < $count; $round++) {
    $taken = [];
    for ($k = 0; $k < count($cases); $k++) {
        $case = $cases[($round + $k) % count($cases)];
        $taken[$case] = $steps[$case]();
        $samples[$case][] = $taken[$case];
    }
    $gaps[] = $taken['persist() of 1 event, no worker attached'] - $taken['write 200 B + fdatasync (the disk)'];
}
fclose($probe);
unlink($probePath);

foreach ($cases as $case) {
    $numbers = latency_numbers($samples[$case]);
    if ($case === 'persist() of 1 event, no worker attached') {
        $numbers['gap_us'] = median($gaps);
    }
    result('latency', $case, $case === 'write 200 B + fdatasync (the disk)' ? 'disk' : 'eventsrv', $numbers);
}
