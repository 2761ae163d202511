<?php
// Worker bootstrap with a projector that fails on CounterLabelled('boom') unless
// EVENTSRV_TEST_FIXED=1, beside the ordinary TallyProjector (tests/projection_lifecycle.rs).
require_once __DIR__ . '/fixtures.php';

final class LabelProjector extends EventSrv\Projector
{
    public function name(): string
    {
        return 'labels';
    }

    public function onCounterLabelled(Fixture\CounterLabelled $event): void
    {
        if ($event->label === 'boom' && getenv('EVENTSRV_TEST_FIXED') !== '1') {
            throw new DomainException('cannot label boom');
        }
    }
}

return ['projectors' => [new Fixture\TallyProjector(), new LabelProjector()]];
