<?php
// Worker bootstrap for tests/reactor_delivery.rs: the tally projector (reactors run after the
// projections) plus the reactor named by $EVENTSRV_TEST_REACTOR (delivery | followup).
require_once __DIR__ . '/reactor_fixtures.php';

return [
    'projectors' => [new Fixture\TallyProjector()],
    'reactors' => [getenv('EVENTSRV_TEST_REACTOR') === 'followup'
        ? new ReactorFixture\FollowUpReactor()
        : new ReactorFixture\DeliveryReactor()],
];
