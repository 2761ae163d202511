<?php
// php reactor_cause.php write <uuid>: increases counter <uuid> by 100 with a known correlation
//   id and user metadata; prints the stored event's id.
// php reactor_cause.php read <uuid>: prints the meta of the events of <uuid> and of
//   <uuid>.followup as JSON.
require_once __DIR__ . '/fixtures.php';

use EventSrv\Context;
use EventSrv\Native;

[$_, $phase, $uuid] = $argv;

if ($phase === 'write') {
    Context::setCorrelationId('corr-' . $uuid);
    Context::addMetadata(['user_id' => 'user-7']);
    Fixture\Counter::retrieve($uuid)->increase(100)->persist();
    echo Native::streamEvents($uuid)[0]->meta()->eventId(), "\n";
    exit(0);
}

$describe = static fn (EventSrv\Event $event): array => [
    'class' => $event::class,
    'event_id' => $event->meta()->eventId(),
    'correlation_id' => $event->meta()->correlationId(),
    'causation_id' => $event->meta()->causationId(),
    'metadata' => $event->meta()->metadata(),
    'payload' => get_object_vars($event),
];
echo json_encode([
    'trigger' => array_map($describe, Native::streamEvents($uuid)),
    'followup' => array_map($describe, Native::streamEvents($uuid . '.followup')),
]), "\n";
