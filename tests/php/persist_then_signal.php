<?php
// Read-your-writes, writer side: php persist_then_signal.php <uuid> <rounds> <fifo-dir>
// For each round: increase by 1, persist, then tell the reader process (via a line on stdout)
// which value it must see now; waits for the reader's "ok" on stdin before the next round.
require_once __DIR__ . '/fixtures.php';

[$_, $uuid, $rounds] = $argv;
for ($i = 1; $i <= (int) $rounds; $i++) {
    Fixture\Counter::retrieve($uuid)->increase(1)->persist();
    fwrite(STDOUT, "$i\n");
    fflush(STDOUT);
    $answer = trim((string) fgets(STDIN));
    if ($answer !== 'ok') {
        fwrite(STDERR, "reader answered '$answer' at round $i\n");
        exit(1);
    }
}
echo "done\n";
