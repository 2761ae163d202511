<?php
// Read-your-writes, reader side: for each line "<n>" on stdin, Tally::find(<uuid>) must show
// value n right away (in this separate process). Answers "ok" or "stale <seen> <expected>".
require_once __DIR__ . '/fixtures.php';

$uuid = $argv[1];
$stale = 0;
while (($line = fgets(STDIN)) !== false) {
    $expected = (int) trim($line);
    $seen = Fixture\Tally::find($uuid)?->value ?? 0;
    if ($seen === $expected) {
        echo "ok\n";
    } else {
        $stale++;
        echo "stale $seen $expected\n";
    }
    fflush(STDOUT);
}
fwrite(STDERR, "stale reads: $stale\n");
exit($stale === 0 ? 0 : 1);
