<?php

/**
 * One read path in a loop, for instruction counts (valgrind --tool=callgrind counts
 * instructions repeatably on this noisy box; use it to A/B a change of the read path):
 *
 *   php bench/php/read_paths.php <path> [<calls>]
 *
 * path: find (Account::find), native-find (Native::find alone), all (Account::all of every
 * account), none (the loop alone: subtract it). Needs the accounts of seed.php in the region.
 * Per-call figure: (instructions of <path> - instructions of none) / calls.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=cg.find php -d extension=… \
 *       -d eventsrv.region=… bench/php/read_paths.php native-find 20000
 */

declare(strict_types=1);

require_once __DIR__ . '/../../examples/bank/autoload.php';

use Bank\Account;

[$path, $calls] = [$argv[1] ?? 'find', (int) ($argv[2] ?? 20_000)];
$uuids = array_map(fn (Account $a) => $a->uuid, Account::all());
if ($uuids === []) {
    fwrite(STDERR, "no Bank\\Account in the region: run seed.php first\n");
    exit(1);
}
$count = count($uuids);
match ($path) {
    'find' => (function () use ($uuids, $count, $calls): void {
        for ($i = 0; $i < $calls; $i++) {
            $a = Account::find($uuids[$i % $count]);
        }
    })(),
    'native-find' => (function () use ($uuids, $count, $calls): void {
        for ($i = 0; $i < $calls; $i++) {
            $a = EventSrv\Native::find(Account::class, $uuids[$i % $count]);
        }
    })(),
    'all' => (function () use ($calls): void {
        for ($i = 0; $i < $calls; $i++) {
            $a = Account::all();
        }
    })(),
    'none' => (function () use ($uuids, $count, $calls): void {
        for ($i = 0; $i < $calls; $i++) {
            $a = $uuids[$i % $count];
        }
    })(),
    default => throw new InvalidArgumentException("unknown path $path: find, native-find, all or none"),
};
