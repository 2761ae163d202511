<?php
// php torn_reader.php <iterations>: loops over Tally::all() and Tally::find() while another
// process churns writes; every row must be self-consistent. Prints "reads <rows> torn <n>".
require_once __DIR__ . '/fixtures.php';

$rows = 0;
$torn = 0;
for ($i = 0; $i < (int) $argv[1]; $i++) {
    foreach (Fixture\Tally::all() as $tally) {
        $rows++;
        if (!$tally->isConsistent()) {
            $torn++;
            fwrite(STDERR, 'torn: ' . json_encode(get_object_vars($tally)) . "\n");
        }
        $again = Fixture\Tally::find($tally->uuid);
        if ($again === null || !$again->isConsistent() || $again->value < $tally->value) {
            $torn++;
            fwrite(STDERR, 'bad find: ' . json_encode($again) . "\n");
        }
    }
}
echo "reads $rows torn $torn\n";
exit($torn === 0 ? 0 : 1);
