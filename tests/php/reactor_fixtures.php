<?php
/**
 * Reactors for tests/reactor_delivery.rs: one that leaves a durable trace of every event it
 * handles (to prove at-least-once delivery across kill -9), and one that records new events
 * while handling one (to prove causation and correlation ids).
 */

declare(strict_types=1);

namespace ReactorFixture;

require_once __DIR__ . '/fixtures.php';

use EventSrv\Reactor;
use Fixture\Counter;
use Fixture\CounterIncreased;

/** Appends "<event id>\n" to $EVENTSRV_TEST_DELIVERY_LOG, fsync'd before the handler returns. */
final class DeliveryReactor extends Reactor
{
    /** @var resource|null */
    private $file = null;

    public function onCounterIncreased(CounterIncreased $event): void
    {
        if ($this->file === null) {
            $path = (string) getenv('EVENTSRV_TEST_DELIVERY_LOG');
            $file = fopen($path, 'ab');
            if ($file === false) {
                throw new \RuntimeException("cannot open $path");
            }
            $this->file = $file;
        }
        $line = $event->meta()->eventId() . "\n";
        if (fwrite($this->file, $line) !== \strlen($line) || !fflush($this->file) || !fsync($this->file)) {
            throw new \RuntimeException('cannot write the delivery trace');
        }
    }
}

/**
 * A CounterIncreased by 100 or more labels the counter "<stream>.followup" with the id of the
 * event that caused it: an event recorded by a reactor.
 */
final class FollowUpReactor extends Reactor
{
    public function onCounterIncreased(CounterIncreased $event): void
    {
        if ($event->by < 100) {
            return;
        }
        Counter::retrieve($event->meta()->aggregateUuid() . '.followup')
            ->label('after ' . $event->meta()->eventId())
            ->persist();
    }
}
