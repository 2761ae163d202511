<?php

/**
 * Where a single persist() spends its syscalls on the daemon side: bench/run.sh attaches
 * `strace -c -f` to the daemon while this runs <count> persist() calls of one event (no worker),
 * then passes the strace summary file back here to print counts per persist().
 *
 *   php bench/php/syscalls.php run <count>
 *   php bench/php/syscalls.php report <count> <strace -c output file>
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

[$mode, $count] = [$argv[1], (int) $argv[2]];
if ($mode === 'run') {
    $aggregate = Bank\AccountAggregateRoot::create('syscall probe');
    $aggregate->persist();
    for ($i = 0; $i < $count; $i++) {
        $aggregate->increaseBalance(1)->persist();
    }
    exit(0);
}
$perPersist = [];
foreach (file($argv[3]) as $line) {
    // "% time seconds usecs/call calls [errors] syscall"
    $cols = preg_split('/\s+/', trim($line));
    if (count($cols) >= 5 && is_numeric($cols[0]) && is_numeric($cols[3])) {
        $name = end($cols);
        if ($name !== 'total') {
            $perPersist[$name] = round((int) $cols[3] / $count, 2);
        }
    }
}
arsort($perPersist);
result('syscalls', 'daemon syscalls per persist() of 1 event (strace -c, single client)', 'eventsrv', ['count' => $count, 'per_persist' => $perPersist]);
