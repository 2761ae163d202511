<?php

/**
 * eventsrv settings of the bank example (published from the package with
 * `php artisan vendor:publish --tag=eventsrv-config`, then edited).
 */

return [
    'projectors' => [
        Bank\AccountProjector::class,
    ],
    'reactors' => [],

    // The bank domain's folder: discovery finds Bank\LargeDepositReactor there.
    'discover' => [
        base_path('../bank/src') => 'Bank',
    ],

    'event_types' => [],

    'worker' => [
        'batch_size' => 1000,
        'sleep_ms' => 1000,
        'memory' => 128,
        'max_time' => 0,
        'max_events' => 0,
    ],
];
