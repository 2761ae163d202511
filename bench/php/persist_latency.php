<?php

/**
 * Single-client write latency, taken apart: the disk's own fdatasync, a raw Native::append()
 * of one event, and AggregateRoot::persist() of one event (with --with-worker: a projector
 * worker is attached, so persist() also waits for the projection, as a request would).
 *
 *   php bench/php/persist_latency.php <count> [--with-worker]
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

use Bank\AccountAggregateRoot;
use Bank\BalanceIncreased;
use EventSrv\Native;

$count = (int) ($argv[1] ?? 1000);
$withWorker = in_array('--with-worker', $argv, true);

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
    result('latency', 'persist() of 1 event, worker attached (waits for projection)', 'eventsrv', ['p50_us' => median($samples), 'p99_us' => percentile($samples, 0.99), 'n' => $count]);
    exit(0);
}

// The disk's own cost: append ~200 bytes + fdatasync, on the same file system as the stores.
$file = fopen(bench_dir() . '/fdatasync.probe', 'w');
$samples = [];
for ($i = 0; $i < $count; $i++) {
    $t = hrtime(true);
    fwrite($file, str_repeat('x', 200));
    fdatasync($file);
    $samples[] = (hrtime(true) - $t) / 1000;
}
fclose($file);
unlink(bench_dir() . '/fdatasync.probe');
result('latency', 'write 200 B + fdatasync (the disk)', 'disk', ['p50_us' => median($samples), 'p99_us' => percentile($samples, 0.99), 'n' => $count]);

$samples = [];
Native::ping();
for ($i = 0; $i < $count; $i++) {
    $t = hrtime(true);
    Native::ping();
    $samples[] = (hrtime(true) - $t) / 1000;
}
result('latency', 'Native::ping() (socket round trip)', 'eventsrv', ['p50_us' => median($samples), 'p99_us' => percentile($samples, 0.99), 'n' => $count]);

$stream = uuid_v4();
Native::append($stream, 0, [new Bank\AccountCreated('raw append probe')], [[]]);
$samples = [];
for ($i = 0; $i < $count; $i++) {
    $t = hrtime(true);
    Native::append($stream, $i + 1, [new BalanceIncreased(1)], [[]]);
    $samples[] = (hrtime(true) - $t) / 1000;
}
result('latency', 'Native::append() of 1 event', 'eventsrv', ['p50_us' => median($samples), 'p99_us' => percentile($samples, 0.99), 'n' => $count]);

$aggregate = AccountAggregateRoot::create('latency probe');
$aggregate->persist();
$samples = [];
for ($i = 0; $i < $count; $i++) {
    $t = hrtime(true);
    $aggregate->increaseBalance(1)->persist();
    $samples[] = (hrtime(true) - $t) / 1000;
}
result('latency', 'persist() of 1 event, no worker attached', 'eventsrv', ['p50_us' => median($samples), 'p99_us' => percentile($samples, 0.99), 'n' => $count]);
