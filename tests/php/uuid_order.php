<?php
// Ids the extension makes, in the order this process made them:
//   php uuid_order.php <rounds>
// Each round makes one EventSrv\Uuid::v7() and appends one event without an event_id (the
// extension gives it one); then prints one JSON line: whether Uuid::v7() used the extension,
// and every id in creation order (event ids read back from the stream).
require_once __DIR__ . '/fixtures.php';

use EventSrv\Native;
use EventSrv\Uuid;

$rounds = (int) $argv[1];
$stream = 'ids-' . getmypid();
$made = [];
for ($i = 0; $i < $rounds; $i++) {
    $made[] = Uuid::v7();
    Native::append($stream, $i, [new Fixture\CounterIncreased(1)], [[]]);
    $made[] = null; // the event's id, read back below
}
$eventIds = array_map(static fn ($event) => $event->meta()->eventId(), Native::streamEvents($stream));
$ids = [];
foreach ($made as $id) {
    $ids[] = $id ?? array_shift($eventIds);
}
$native = (new ReflectionProperty(Uuid::class, 'native'))->getValue();
echo json_encode(['native' => $native, 'ids' => $ids]), "\n";
