<?php
/**
 * Test domain for the end-to-end tests: a counter aggregate whose projection row carries
 * redundant fields (value, check = value * 7 + 3, label = "v<value>") so a torn read, a row
 * mixing two versions, is detectable; and a reactor that leaves a trace file per event.
 */

declare(strict_types=1);

namespace Fixture;

require_once __DIR__ . '/../../php/autoload.php';

use EventSrv\AggregateRoot;
use EventSrv\Entity;
use EventSrv\Event;
use EventSrv\Projector;
use EventSrv\Reactor;

final class CounterIncreased extends Event
{
    public function __construct(public readonly int $by)
    {
    }
}

final class CounterLabelled extends Event
{
    public function __construct(public readonly mixed $label)
    {
    }
}

final class Counter extends AggregateRoot
{
    public int $value = 0;

    public function increase(int $by = 1): static
    {
        return $this->event(new CounterIncreased($by));
    }

    public function label(mixed $label): static
    {
        return $this->event(new CounterLabelled($label));
    }

    protected function applyCounterIncreased(CounterIncreased $event): void
    {
        $this->value += $event->by;
    }
}

final class Tally extends Entity
{
    public string $uuid;
    public int $value = 0;
    public int $check = 3;
    public string $label = 'v0';
    public int $events = 0;

    public function isConsistent(): bool
    {
        return $this->check === $this->value * 7 + 3 && $this->label === 'v' . $this->value;
    }
}

final class TallyProjector extends Projector
{
    public function entities(): array
    {
        return [Tally::class];
    }

    public function onCounterIncreased(CounterIncreased $event): void
    {
        $uuid = $event->meta()->aggregateUuid();
        $tally = Tally::find($uuid) ?? self::fresh($uuid);
        $tally->value += $event->by;
        $tally->check = $tally->value * 7 + 3;
        $tally->label = 'v' . $tally->value;
        $tally->events++;
        $tally->save();
    }

    private static function fresh(string $uuid): Tally
    {
        $tally = new Tally();
        $tally->uuid = $uuid;
        return $tally;
    }
}

/** Appends "<position>\n" to $EVENTSRV_TEST_REACTOR_LOG for every event it sees. */
final class TraceReactor extends Reactor
{
    public function onCounterIncreased(CounterIncreased $event): void
    {
        $file = getenv('EVENTSRV_TEST_REACTOR_LOG');
        if ($file !== false && $file !== '') {
            file_put_contents($file, $event->meta()->position() . "\n", FILE_APPEND | LOCK_EX);
        }
    }
}
