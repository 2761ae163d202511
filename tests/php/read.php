<?php
// php read.php <uuid>...: prints one JSON object: tallies by uuid, all() order, counts, versions.
require_once __DIR__ . '/fixtures.php';

$uuids = array_slice($argv, 1);
$out = ['find' => [], 'versions' => [], 'aggregate' => []];
foreach ($uuids as $uuid) {
    $tally = Fixture\Tally::find($uuid);
    $out['find'][$uuid] = $tally === null ? null : get_object_vars($tally);
    $out['versions'][$uuid] = Fixture\Counter::retrieve($uuid)->version();
    $out['aggregate'][$uuid] = Fixture\Counter::retrieve($uuid)->value;
}
$out['all'] = array_map(fn (Fixture\Tally $t) => $t->uuid, Fixture\Tally::all());
$out['count'] = Fixture\Tally::count();
echo json_encode($out), "\n";
