<?php
// php permission_probe.php <stream>: what this process (run as some user) may do with the
// daemon: one line for the region read, one for the append:
//   "read: ok <version>" or "read: <exception class>: <message>"
//   "append: ok <version>" or "append: <exception class>: <message>"
require_once __DIR__ . '/fixtures.php';

use EventSrv\Native;

$stream = $argv[1];
try {
    $version = Native::streamVersion($stream);
    echo "read: ok $version\n";
} catch (Throwable $e) {
    echo 'read: ', get_class($e), ': ', $e->getMessage(), "\n";
}
try {
    $result = Native::append($stream, -1, [new Fixture\CounterIncreased(1)], [[]]);
    echo 'append: ok ', $result['version'] ?? json_encode($result), "\n";
} catch (Throwable $e) {
    echo 'append: ', get_class($e), ': ', $e->getMessage(), "\n";
}
