<?php

declare(strict_types=1);

namespace EventSrv\Testing;

use EventSrv\Event;
use EventSrv\Internal\Runtime;
use EventSrv\Projector;
use EventSrv\Reactor;
use EventSrv\Worker;

/**
 * Feeds events to projectors (and reactors) the way the worker does, without a daemon, and lets
 * the test read the resulting entities with the ordinary Entity API:
 *
 *     $scenario = ProjectorScenario::for(new AccountProjector())
 *         ->given($uuid, [new AccountCreated('Ada'), new BalanceIncreased(10)])
 *         ->run();
 *     self::assertSame(10, Account::find($uuid)->balance);
 *     $scenario->close();   // e.g. in tearDown()
 *
 * From for() until close() (or the next scenario), every EventSrv class reads and writes this
 * scenario's in-memory store. It is deliberately not undone when the object goes out of scope:
 * a test reads the entities after the last call on it.
 */
final class ProjectorScenario
{
    private InMemoryBackend $backend;

    private ?\EventSrv\Internal\Backend $previous;

    private bool $open = true;

    /** @var list<Reactor> */
    private array $reactors = [];

    /** @param list<Projector> $projectors */
    private function __construct(private readonly array $projectors)
    {
        $this->previous = Runtime::installedBackend();
        $this->backend = InMemoryBackend::install();
    }

    public static function for(Projector ...$projectors): self
    {
        return new self(array_values($projectors));
    }

    /** Also run these reactors after the projectors, from the first event on. */
    public function withReactors(Reactor ...$reactors): self
    {
        foreach ($reactors as $reactor) {
            // A reactor without a checkpoint would start at the head, as new reactors do live.
            $this->backend->setCheckpoint($reactor->name(), 0);
            $this->reactors[] = $reactor;
        }
        return $this;
    }

    /** @param list<Event> $events appended to the stream of $aggregateUuid, oldest first */
    public function given(string $aggregateUuid, array $events): self
    {
        $this->backend->given($aggregateUuid, $events);
        return $this;
    }

    /** Runs the projectors (then reactors) over every event not yet handled. */
    public function run(): self
    {
        $worker = new Worker($this->projectors, $this->reactors, [], static function (): void {
        });
        $worker->runOnce();
        Runtime::useBackend($this->backend);
        return $this;
    }

    public function backend(): InMemoryBackend
    {
        return $this->backend;
    }

    /** Gives the process back to whatever backend it used before. */
    public function close(): void
    {
        if ($this->open) {
            $this->open = false;
            Runtime::useBackend($this->previous);
            Runtime::$inWorker = false;
        }
    }
}
