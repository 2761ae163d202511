<?php
// php rebuild_reader.php <stop-file> <min-count> <min-sum>: reads Fixture\Tally::all() in a loop
// until <stop-file> exists, checking every read is a whole projection: at least <min-count>
// tallies, every row consistent, a sum of values (= events projected) of at least <min-sum> that
// never goes down. Prints one JSON object: reads, failures (the first few), sums seen.
require_once __DIR__ . '/fixtures.php';

[, $stopFile, $minCount, $minSum] = $argv;
$failures = [];
$reads = 0;
$previousSum = 0;
$firstSum = null;
$readsMax = 1_000_000; // bound: the test stops us long before
echo "ready\n";
while (!file_exists($stopFile) && $reads < $readsMax) {
    $all = Fixture\Tally::all();
    $reads++;
    $sum = 0;
    foreach ($all as $tally) {
        $sum += $tally->value;
        if (!$tally->isConsistent() && count($failures) < 5) {
            $failures[] = "read $reads: inconsistent row " . json_encode(get_object_vars($tally));
        }
    }
    $firstSum ??= $sum;
    if (count($all) < (int) $minCount && count($failures) < 5) {
        $failures[] = sprintf('read %d: %d tallies, fewer than %d', $reads, count($all), $minCount);
    }
    if ($sum < (int) $minSum && count($failures) < 5) {
        $failures[] = sprintf('read %d: %d events projected, fewer than %d', $reads, $sum, $minSum);
    }
    if ($sum < $previousSum && count($failures) < 5) {
        $failures[] = sprintf('read %d: %d events projected after %d', $reads, $sum, $previousSum);
    }
    $previousSum = max($previousSum, $sum);
}
echo json_encode(['reads' => $reads, 'failures' => $failures, 'first_sum' => $firstSum, 'last_sum' => $previousSum]), "\n";
