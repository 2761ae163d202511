<?php
// Worker bootstrap for the end-to-end tests (php/bin/eventsrv-worker tests/php/worker.php).
require_once __DIR__ . '/fixtures.php';

return [
    'projectors' => [new Fixture\TallyProjector()],
    'reactors' => [new Fixture\TraceReactor()],
];
