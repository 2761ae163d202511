<?php

/**
 * eventsrv for Laravel: publish with `php artisan vendor:publish --tag=eventsrv-config`.
 * The daemon socket and region path are ini settings of the extension (eventsrv.socket,
 * eventsrv.region in php.ini or the php-fpm pool), not Laravel configuration.
 */

return [
    // Projectors and reactors run by `php artisan eventsrv:work`, built by the container
    // (constructor injection works).
    'projectors' => [
        // App\Projectors\AccountProjector::class,
    ],
    'reactors' => [
        // App\Reactors\LargeDepositReactor::class,
    ],

    // Directories searched for concrete Projector and Reactor classes, as path => namespace
    // (PSR-4). Found classes are added to the lists above.
    'discover' => [
        // app_path() => 'App',
    ],

    // Stable stored names for event classes: [App\Events\AccountCreated::class => 'account.created'].
    'event_types' => [],

    // Defaults of `eventsrv:work` (each can be overridden by its option).
    'worker' => [
        'batch_size' => 1000,
        'sleep_ms' => 1000,
        'memory' => 128,
        'max_time' => 0,
        'max_events' => 0,
    ],
];
