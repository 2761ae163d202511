<?php

/**
 * Bootstrap of the bank example's projector worker:
 *
 *     php -d extension=/path/to/eventsrv.so php/bin/eventsrv-worker examples/bank/worker.php
 *
 * Loads the example's classes and names its projectors and reactors.
 */

declare(strict_types=1);

require_once __DIR__ . '/autoload.php';

return [
    'projectors' => [new Bank\AccountProjector()],
    'reactors' => [new Bank\LargeDepositReactor()],
];
