<?php
/**
 * Read hot path micro-bench (not a pass/fail test): Account::find(), Native::find(),
 * Account::all() against apcu_fetch of the same objects, interleaved in one process.
 * Needs a region with Bank\Account entities (bench/php/seed.php makes one) and, for APCu,
 * `-d apc.enable_cli=1`.
 *
 *   php -d extension=target/release/libeventsrv.so -d apc.enable_cli=1 -d eventsrv.region=... \
 *       php/bench/reads.php [rounds=5] [mode=all|find|findloop|allloop]
 *
 * The *loop modes just call one thing in a loop (for perf / callgrind).
 */

declare(strict_types=1);

require_once __DIR__ . '/../../examples/bank/autoload.php';

use Bank\Account;
use EventSrv\Native;

$rounds = (int) ($argv[1] ?? 5);
$mode = $argv[2] ?? 'all';
$accounts = Account::all();
$uuids = array_map(fn (Account $a) => $a->uuid, $accounts);
$n = count($uuids);

if ($mode === 'findloop') {
    for ($i = 0; $i < $rounds * 1_000_000; $i++) {
        $a = Account::find($uuids[$i % $n]);
    }
    exit(0);
}
if ($mode === 'allloop') {
    for ($i = 0; $i < $rounds * 1000; $i++) {
        $a = Account::all();
    }
    exit(0);
}

$apcu = function_exists('apcu_store') && apcu_enabled();
if ($apcu) {
    foreach ($accounts as $a) {
        apcu_store('e:' . $a->uuid, $a);
    }
    apcu_store('all', $accounts);
}
$cases = [
    'Account::find()' => function (array $ids) { foreach ($ids as $id) { $a = Account::find($id); } },
    'Native::find()' => function (array $ids) { foreach ($ids as $id) { $a = Native::find(Account::class, $id); } },
    'Native::count() (call floor)' => function (array $ids) { foreach ($ids as $id) { $a = Native::count(Account::class); } },
];
if ($apcu) {
    $cases['apcu_fetch()'] = function (array $ids) { foreach ($ids as $id) { $a = apcu_fetch('e:' . $id); } };
}
$samples = [];
for ($r = 0; $r < $rounds; $r++) {
    for ($b = 0; $b < 200; $b++) {
        $ids = [];
        for ($j = 0; $j < 100; $j++) {
            $ids[] = $uuids[mt_rand(0, $n - 1)];
        }
        foreach ($cases as $name => $fn) {
            $t = hrtime(true);
            $fn($ids);
            $samples[$name][] = (hrtime(true) - $t) / 100 / 1000;
        }
    }
    for ($i = 0; $i < 20; $i++) {
        $t = hrtime(true);
        $all = Account::all();
        $samples["Account::all() ($n)"][] = (hrtime(true) - $t) / 1000;
        unset($all);
        if ($apcu) {
            $t = hrtime(true);
            $all = apcu_fetch('all');
            $samples["apcu_fetch() of $n"][] = (hrtime(true) - $t) / 1000;
            unset($all);
        }
    }
}
foreach ($samples as $name => $s) {
    sort($s);
    printf("%-32s p50 %9.3f µs   p10 %9.3f µs\n", $name, $s[intdiv(count($s), 2)], $s[intdiv(count($s), 10)]);
}
