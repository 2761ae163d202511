<?php
// Fork safety of the daemon connection and of event ids:
//   php fork_append.php <appends per process>
// Connects (one append) and forks; parent and child each append <appends> events, one per
// request, to a stream of their own, and print one JSON line each: who, their stream, the
// stream versions the daemon answered and the connection state. A child sharing its parent's
// connection would read answers meant for the other process (wrong versions, or a broken
// connection); ids from one pool of random bytes would repeat across the two.
require_once __DIR__ . '/fixtures.php';

use EventSrv\Native;

$appends = (int) $argv[1];
Native::append('fork-before', -1, [new Fixture\CounterIncreased(1)], [[]]);

function appendAll(string $who, int $appends): void
{
    $stream = "fork-$who";
    $versions = [];
    for ($i = 0; $i < $appends; $i++) {
        $versions[] = Native::append($stream, $i, [new Fixture\CounterIncreased(1)], [[]])['version'];
    }
    echo json_encode([
        'who' => $who,
        'stream' => $stream,
        'versions' => $versions,
        'state' => Native::connectionState(),
    ]), "\n";
}

$child = pcntl_fork();
if ($child < 0) {
    fwrite(STDERR, "fork failed\n");
    exit(1);
}
if ($child === 0) {
    appendAll('child', $appends);
    exit(0);
}
appendAll('parent', $appends);
pcntl_waitpid($child, $status);
exit(pcntl_wexitstatus($status) === 0 ? 0 : 1);
