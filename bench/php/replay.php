<?php

/**
 * Scenario 4: replay through the PHP projector worker.
 *   php bench/php/replay.php append <events>          appends <events> events (1,000 accounts,
 *                                                     then BalanceIncreased spread over them)
 *   php bench/php/replay.php report <events> <us>     checks the projection and prints events/s
 * bench/run.sh times `eventsrv-worker --replay` in between.
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

use Bank\AccountCreated;
use Bank\BalanceIncreased;
use EventSrv\Native;

const STREAMS = 1000;
const PER_APPEND = 1000;

[$mode, $events] = [$argv[1], (int) $argv[2]];

if ($mode === 'append') {
    $streams = [];
    for ($s = 0; $s < STREAMS; $s++) {
        $streams[] = uuid_v4();
        Native::append($streams[$s], 0, [new AccountCreated("replay $s")], [[]]);
    }
    $left = $events - STREAMS;
    $s = 0;
    while ($left > 0) {
        $n = min(PER_APPEND, $left);
        Native::append($streams[$s % STREAMS], -1, array_fill(0, $n, new BalanceIncreased(1)), array_fill(0, $n, []));
        $left -= $n;
        $s++;
    }
    note('committed position ' . Native::positions()['committed']);
    exit(0);
}

$us = (int) $argv[3];
$positions = Native::positions();
result('replay', "replay through the PHP worker (bank AccountProjector)", 'eventsrv', [
    'events_total' => $positions['committed'],
    'projected' => $positions['projected'],
    'seconds' => $us / 1e6,
    'events_per_s' => $positions['committed'] / ($us / 1e6),
]);
