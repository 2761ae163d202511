<?php
// php bad_events.php <uuid>: tries to persist events that cannot be stored; each must throw
// SerializationException and write nothing. Prints one line per case, then the stream version.
require_once __DIR__ . '/fixtures.php';

$uuid = $argv[1];
$recursive = [];
$recursive['self'] = &$recursive;
$cases = [
    'closure' => fn () => 1,
    'resource' => fopen('php://memory', 'r'),
    'anonymous' => new class {
        public int $x = 1;
    },
    'recursive' => $recursive,
];
foreach ($cases as $name => $value) {
    try {
        Fixture\Counter::retrieve($uuid)->label($value)->persist();
        echo "$name: persisted (BUG)\n";
    } catch (EventSrv\SerializationException $e) {
        echo "$name: SerializationException: {$e->getMessage()}\n";
    }
}
echo 'version ' . Fixture\Counter::retrieve($uuid)->version() . "\n";
