<?php
// php increase.php <uuid> <times> [by]: retrieve → increase → persist, <times> times, retrying
// on ConcurrencyException. Prints "ok <persists> <conflicts>".
require_once __DIR__ . '/fixtures.php';

[$_, $uuid, $times] = $argv;
$by = (int) ($argv[3] ?? 1);
$conflicts = 0;
for ($i = 0; $i < (int) $times; $i++) {
    for ($attempt = 0; ; $attempt++) {
        try {
            Fixture\Counter::retrieve($uuid)->increase($by)->persist();
            break;
        } catch (EventSrv\ConcurrencyException $e) {
            $conflicts++;
            if ($attempt > 10_000) {
                throw $e;
            }
        }
    }
}
echo "ok $times $conflicts\n";
