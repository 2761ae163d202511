<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\Backend;
use EventSrv\Internal\EventPositions;
use EventSrv\Internal\HandlerMap;
use EventSrv\Internal\Overlay;
use EventSrv\Internal\Runtime;
use EventSrv\Internal\WorkerLog;
use EventSrv\Internal\WorkerStop;

/**
 * The projector worker: a long-running CLI process that feeds stored events, in global order,
 * to the app's projectors and reactors.
 *
 * Per batch: wait (blocking, no polling) until there are events after the lowest checkpoint,
 * read up to batchSize of them from shared memory, let every projector handle the events after
 * its own checkpoint, and send the entity changes of all projectors together with their new
 * checkpoints and the projected position as ONE atomic commit. Then the reactors handle the
 * batch, each committing its own checkpoint (at-least-once).
 *
 * A handler that throws marks its projector failed (ProjectorStatus: exception, handler, event
 * position) in the batch's commit, with that projector's checkpoint just before the failing event
 * and its other changes of that event dropped; the other projectors commit the whole batch and
 * keep running. Failed and paused projectors are skipped until `--retry` / `--resume` flips their
 * status (read from the region at every batch). A failing reactor still stops the worker with
 * status 1. SIGTERM/SIGINT finish the batch and return 0.
 *
 * One worker process owns all projectors of an app. Two workers on the same projectors stay
 * correct (checkpoint moves are compare-and-set; the loser drops its batch and re-reads), but
 * only one of them makes progress at a time.
 */
final class Worker
{
    /** Consecutive checkpoint conflicts after which runOnce()/replay() give up. */
    private const CHECKPOINT_CONFLICTS_MAX = 10;

    /** Pause after a wake-up that found no events to read. */
    private const EMPTY_BATCH_PAUSE_US = 10_000;

    /** @var array<string, Projector> by checkpoint name */
    private array $projectors = [];

    /** @var array<string, Reactor> by checkpoint name */
    private array $reactors = [];

    private WorkerOptions $options;

    private WorkerLog $log;

    /** @var array<string, int> committed checkpoint by name; a new reactor has none yet */
    private array $checkpoints = [];

    private bool $attached = false;

    private WorkerStop $stop;

    /** Current batch size: the configured one, halved after a commit that was too large. */
    private int $batchSize;

    /** Read from the region every batch. */
    private ProjectorStatuses $statuses;

    /**
     * The handler methods of each projector and reactor per event class, bound to it: what
     * EventHandler::handle() would run, looked up once (HandlerMap::closuresFor()). Bounded by
     * the app's handlers times its event classes.
     *
     * @var array<string, array<class-string<Event>, array<string, \Closure(Event): mixed>>>
     */
    private array $handlerCalls = [];

    /**
     * @param list<Projector> $projectors
     * @param list<Reactor> $reactors
     * @param WorkerOptions|array<string, int> $options see WorkerOptions::fromArray()
     * @param (callable(string): void)|null $log receives each log line; default: STDERR with a timestamp
     */
    public function __construct(
        array $projectors,
        array $reactors = [],
        WorkerOptions|array $options = [],
        ?callable $log = null,
    ) {
        foreach ($projectors as $projector) {
            if (!$projector instanceof Projector) {
                throw new \InvalidArgumentException(get_debug_type($projector) . ' is not a ' . Projector::class);
            }
            $this->projectors[$this->uniqueName($projector)] = $projector;
        }
        foreach ($reactors as $reactor) {
            if (!$reactor instanceof Reactor) {
                throw new \InvalidArgumentException(get_debug_type($reactor) . ' is not a ' . Reactor::class);
            }
            $this->reactors[$this->uniqueName($reactor)] = $reactor;
        }
        $this->options = \is_array($options) ? WorkerOptions::fromArray($options) : $options;
        $this->batchSize = $this->options->batchSize;
        $this->statuses = new ProjectorStatuses();
        $this->log = new WorkerLog($log === null ? WorkerLog::stderr() : \Closure::fromCallable($log));
        $this->stop = new WorkerStop($this->options, $this->log);
    }

    /**
     * Runs until stopped by a signal or a limit (returns 0) or by a failure (logged; returns 1).
     */
    public function run(): int
    {
        $this->stop->installSignalHandlers();
        $startedAt = microtime(true);
        $processed = 0;
        try {
            $this->start(true);
            $this->log(sprintf(
                'worker started (pid %d): %d projector(s), %d reactor(s), batch size %d, from position %d',
                getmypid(),
                \count($this->projectors),
                \count($this->reactors),
                $this->batchSize,
                $this->lowestCheckpoint(true),
            ));
            while (($reason = $this->stop->reason($startedAt, $processed)) === null) {
                $this->statuses->reload();
                $from = $this->lowestCheckpoint(true);
                $committed = $this->backend()->waitForEvents($from, $this->options->sleepMs);
                if ($committed <= $from || $this->stop->requested) {
                    continue;
                }
                $limit = $this->options->maxEvents > 0 ? $this->options->maxEvents - $processed : PHP_INT_MAX;
                $count = $this->processBatch(true, $limit);
                if ($count === 0) {
                    // committed moved but nothing was readable: never spin hot on such a state
                    usleep(self::EMPTY_BATCH_PAUSE_US);
                }
                $processed += $count ?? 0;
            }
        } catch (EventHandlerFailedException $failure) {
            $this->log->handlerFailure($failure);
            return 1;
        } catch (\Throwable $failure) {
            $this->log->stoppedBy($failure);
            return 1;
        }
        $this->log("worker stopped ($reason) after $processed event(s)");
        return 0;
    }

    /**
     * Processes what is there now, projectors and reactors, and returns the number of events
     * processed. Handler failures are thrown (EventHandlerFailedException), not logged.
     */
    public function runOnce(): int
    {
        $this->start(true);
        return $this->drain(true);
    }

    /**
     * Rebuilds projections IN PLACE from the first event (readers see the projection empty, then
     * growing: prefer rebuild(), which builds beside the live projection and swaps it in). In
     * one commit, empties the entities() classes
     * of the selected projectors (default: all) and moves their checkpoints to 0; then runs them
     * up to the head. Reactors do not run and keep their checkpoints. Returns the number of
     * events processed.
     *
     * @param list<string> $projectorNames checkpoint names, class names or short class names
     */
    public function replay(array $projectorNames = []): int
    {
        $this->start(false);
        $selected = $this->selectProjectors($projectorNames);
        if ($selected === []) {
            $this->log('replay: no projectors to replay');
            return 0;
        }

        $changes = [];
        $moves = [];
        $after = [];
        foreach ($this->projectors as $name => $projector) {
            $after[$name] = isset($selected[$name]) ? 0 : $this->checkpoints[$name];
        }
        foreach ($selected as $name => $projector) {
            foreach ($projector->entities() as $class) {
                $changes[$class] = ['reset', $class];
            }
            $moves[] = [$name, $this->checkpoints[$name], 0];
        }
        $result = $this->backend()->commit(array_values($changes), $moves, min($after));
        if (!empty($result['checkpoint_conflict'])) {
            throw new EventSrvException(sprintf(
                'replay refused: the checkpoint of %s moved meanwhile (expected %d, found %d); '
                . 'is another worker replaying? Try again',
                $result['name'],
                $result['expected'],
                $result['actual'],
            ));
        }
        foreach ($selected as $name => $projector) {
            $this->checkpoints[$name] = 0;
        }
        $this->log(sprintf(
            'replay: %s reset (%s); checkpoints at 0',
            implode(', ', array_keys($selected)),
            $changes === [] ? 'no entity classes' : 'entities ' . implode(', ', array_keys($changes)),
        ));

        $processed = $this->drain(false);
        $this->log(sprintf(
            'replay: %s %d event(s); projectors at position %d',
            $this->stop->requested ? 'interrupted after' : 'done,',
            $processed,
            $this->lowestCheckpoint(false),
        ));
        return $processed;
    }

    /**
     * Rebuilds the selected projectors (default: all) beside their live projections, one after
     * the other, and swaps each in atomically when it reaches the head (ProjectorRebuild). The
     * live projections keep serving and a running worker keeps projecting meanwhile. Reactors do
     * not run. SIGTERM/SIGINT stop between batches, leaving the live projection untouched.
     *
     * @param list<string> $projectorNames checkpoint names, class names or short class names
     * @param (callable(ProjectorRebuildProgress): void)|null $progress after every committed batch
     * @return int events processed
     */
    public function rebuild(array $projectorNames = [], ?callable $progress = null): int
    {
        Runtime::$inWorker = true; // not attached: persist() waits for the live worker, not for this
        $this->stop->installSignalHandlers();
        $selected = $this->selectProjectors($projectorNames);
        $processed = 0;
        foreach ($selected as $name => $projector) {
            if ($this->stop->requested) {
                break;
            }
            $rebuild = new ProjectorRebuild(
                $name,
                $projector,
                $this->batchSize,
                $this->log->sink,
                $progress === null ? null : \Closure::fromCallable($progress),
                fn (): bool => $this->stop->requested,
            );
            $processed += $rebuild->run();
        }
        return $processed;
    }

    /** Asks the loop to stop after the current batch (what SIGTERM/SIGINT do). */
    public function stop(): void
    {
        $this->stop->requested = true;
    }

    /** @return array<string, int> the checkpoints this worker knows, by name */
    public function checkpoints(): array
    {
        return $this->checkpoints;
    }

    /** Prepares a run: marks the process as a worker and loads the checkpoints. */
    private function start(bool $withReactors): void
    {
        Runtime::$inWorker = true;
        // A worker without projectors projects nothing: persist() must not wait for it.
        if (!$this->attached && $this->projectors !== []) {
            $this->backend()->attachWorker();
            $this->attached = true;
        }
        $this->loadCheckpoints();
        if ($withReactors) {
            $this->startNewReactorsAtHead();
        }
    }

    /** Batches until caught up (or stopped); returns the number of events processed. */
    private function drain(bool $withReactors): int
    {
        $processed = 0;
        $conflicts = 0;
        while (!$this->stop->requested) {
            $count = $this->processBatch($withReactors, PHP_INT_MAX);
            if ($count === null) {
                if (++$conflicts >= self::CHECKPOINT_CONFLICTS_MAX) {
                    throw new EventSrvException(sprintf(
                        'gave up after %d checkpoint conflicts in a row: another worker runs the same projectors',
                        $conflicts,
                    ));
                }
                continue;
            }
            $conflicts = 0;
            if ($count === 0) {
                break;
            }
            $processed += $count;
        }
        return $processed;
    }

    /**
     * One batch: projectors, one commit, then reactors.
     *
     * @return int|null events processed (0: nothing to do); null: a checkpoint conflict dropped the batch
     */
    private function processBatch(bool $withReactors, int $limit): ?int
    {
        $this->statuses->reload();
        $from = $this->lowestCheckpoint($withReactors);
        $events = $this->backend()->eventsAfter($from, max(1, min($limit, $this->batchSize)));
        if ($events === []) {
            return 0;
        }
        $events = $this->project($events);
        if ($events === null) {
            return null;
        }
        if ($withReactors && $this->reactors !== []) {
            $this->react($events);
        }
        return \count($events);
    }

    /**
     * Runs the projectors over the events and commits. A commit too large for one frame is
     * retried with the first half of the events, down to a single event.
     *
     * @param non-empty-list<Event> $events
     * @return list<Event>|null the events now projected (a prefix of $events); null on a conflict
     */
    private function project(array $events): ?array
    {
        while (true) {
            try {
                return $this->projectAndCommit($events) ? $events : null;
            } catch (FrameTooLargeException $tooLarge) {
                if (\count($events) === 1) {
                    throw new FrameTooLargeException(sprintf(
                        'the entity changes projected from event #%d alone exceed the frame limit: %s',
                        $events[0]->meta()->position(),
                        $tooLarge->getMessage(),
                    ), 0, $tooLarge);
                }
                $this->batchSize = max(1, intdiv(\count($events), 2));
                $events = \array_slice($events, 0, $this->batchSize);
                $this->log("commit too large for one frame: batch size halved to {$this->batchSize}");
            }
        }
    }

    /**
     * Runs the runnable projectors over the events and commits once. A projector whose handler
     * throws is marked failed: the batch is run again from the overlay's start with that
     * projector stopping before the failing event (so none of that event's changes of it are
     * kept), at most once per projector.
     *
     * @param non-empty-list<Event> $events
     * @return bool false: another worker moved a checkpoint, the batch was dropped
     */
    private function projectAndCommit(array $events): bool
    {
        $runnable = $this->runnableProjectors();
        $positions = EventPositions::of($events);
        /** @var array<string, int> $stopAt projector => position of its failing event */
        $stopAt = [];
        /** @var array<string, EventHandlerFailedException> $failures */
        $failures = [];
        while (true) {
            $overlay = new Overlay($this->backend());
            /** @var array<string, int> $working */
            $working = array_intersect_key($this->checkpoints, $runnable);
            $failing = null;
            $context = Context::saveHandling();
            Runtime::beginProjecting($overlay);
            try {
                foreach ($events as $index => $event) {
                    $position = $positions[$index];
                    $overlay->position = $position;
                    foreach ($runnable as $name => $projector) {
                        if ($working[$name] >= $position || $position >= ($stopAt[$name] ?? PHP_INT_MAX)) {
                            continue;
                        }
                        $failing = $name;
                        // handle() inlined: this runs once per event and projector
                        Context::$handled = $event;
                        Context::$newEventMetadata = null;
                        $calls = $this->handlerCalls[$name][$event::class]
                            ??= HandlerMap::closuresFor($projector, $event::class);
                        foreach ($calls as $method => $call) {
                            try {
                                $call($event);
                            } catch (\Throwable $failure) {
                                throw new EventHandlerFailedException($projector::class, $method, $event, $failure);
                            }
                        }
                        $failing = null;
                        $working[$name] = $position;
                    }
                }
            } catch (EventHandlerFailedException $handlerFailure) {
                \assert($failing !== null && !isset($stopAt[$failing]));
                $stopAt[$failing] = $handlerFailure->position() ?? $overlay->position;
                $failures[$failing] = $handlerFailure;
                continue; // run the batch again without the failing event for that projector
            } finally {
                Runtime::endProjecting();
                Context::restoreHandling($context);
            }
            break;
        }
        foreach ($failures as $name => $failure) {
            $overlay->position = min($stopAt[$name], $this->backend()->positions()['committed']);
            $overlay->save(ProjectorStatus::failed($name, $failure));
        }
        $committed = $this->commitProjection($overlay, $working);
        foreach ($failures as $name => $failure) {
            if ($committed) {
                $this->statuses->remember(ProjectorStatus::failed($name, $failure));
            }
            $this->log->handlerFailure($failure, $committed);
        }
        return $committed;
    }

    /** @param array<string, int> $working projector checkpoints after the batch */
    private function commitProjection(Overlay $overlay, array $working): bool
    {
        $moves = [];
        foreach ($working as $name => $position) {
            if ($position !== $this->checkpoints[$name]) {
                $moves[] = [$name, $this->checkpoints[$name], $position];
            }
        }
        if ($moves === [] && $overlay->isEmpty()) {
            return true;
        }
        $projected = $working === [] ? null : min($working);
        $result = $this->backend()->commit($overlay->changes(), $moves, $projected);
        if (!empty($result['checkpoint_conflict'])) {
            $this->log->conflict($result);
            $this->loadCheckpoints();
            return false;
        }
        foreach ($working as $name => $position) {
            $this->checkpoints[$name] = $position;
        }
        return true;
    }

    /**
     * Reactors see events only once the projectors have committed them; each reactor commits
     * its checkpoint once per batch (and before rethrowing a handler failure).
     *
     * @param list<Event> $events
     */
    private function react(array $events): void
    {
        $projectedUpTo = $this->projectors === [] ? PHP_INT_MAX : $this->lowestCheckpoint(false);
        $positions = EventPositions::of($events);
        foreach ($this->reactors as $name => $reactor) {
            $start = $this->checkpoints[$name];
            $done = $start;
            $failure = null;
            $context = Context::saveHandling();
            try {
                foreach ($events as $index => $event) {
                    $position = $positions[$index];
                    if ($position <= $done) {
                        continue;
                    }
                    if ($position > $projectedUpTo) {
                        break;
                    }
                    $this->handle($name, $reactor, $event);
                    $done = $position;
                }
            } catch (EventHandlerFailedException $handlerFailure) {
                $failure = $handlerFailure;
            } finally {
                Context::restoreHandling($context);
            }
            if ($done !== $start) {
                $result = $this->backend()->commit([], [[$name, $start, $done]], null);
                if (!empty($result['checkpoint_conflict'])) {
                    $this->log->conflict($result);
                    $this->loadCheckpoints();
                } else {
                    $this->checkpoints[$name] = $done;
                }
            }
            if ($failure !== null) {
                throw $failure;
            }
        }
    }

    /**
     * What EventHandler::handle() does, with what Context::runHandler() adds, for the hot loops:
     * the handler's methods for the event run in declaration order, with the event as the
     * Context's handled event (between Context::saveHandling() and restoreHandling()).
     *
     * @throws EventHandlerFailedException wrapping what a handler threw
     */
    private function handle(string $name, EventHandler $handler, Event $event): void
    {
        Context::$handled = $event;
        Context::$newEventMetadata = null;
        $calls = $this->handlerCalls[$name][$event::class]
            ??= HandlerMap::closuresFor($handler, $event::class);
        foreach ($calls as $method => $call) {
            try {
                $call($event);
            } catch (\Throwable $failure) {
                throw new EventHandlerFailedException($handler::class, $method, $event, $failure);
            }
        }
    }

    /** @return array<string, Projector> the projectors neither failed nor paused */
    private function runnableProjectors(): array
    {
        return array_filter(
            $this->projectors,
            fn (string $name): bool => $this->statuses->runs($name),
            ARRAY_FILTER_USE_KEY,
        );
    }

    /**
     * Sets a projector's status (`--pause`, `--resume`, `--retry`; ProjectorStatuses::set()).
     *
     * @param string $projectorName checkpoint name, class name or short class name
     * @return string what changed, for the operator
     */
    public function setStatus(string $projectorName, string $status): string
    {
        $name = array_key_first($this->selectProjectors([$projectorName]));
        \assert(\is_string($name));
        return $this->statuses->set($name, $status);
    }

    /** @return array<string, ProjectorStatus> every projector's status (active when none is stored) */
    public function statuses(): array
    {
        $this->statuses->reload();
        $all = [];
        foreach ($this->projectors as $name => $projector) {
            $all[$name] = $this->statuses->of($name);
        }
        return $all;
    }

    private function loadCheckpoints(): void
    {
        $stored = $this->backend()->checkpoints();
        foreach ($this->projectors as $name => $projector) {
            $this->checkpoints[$name] = (int) ($stored[$name] ?? 0);
        }
        foreach ($this->reactors as $name => $reactor) {
            if (isset($stored[$name])) {
                $this->checkpoints[$name] = (int) $stored[$name];
            }
        }
    }

    /**
     * A reactor without a checkpoint starts at the head: new reactors do not fire for history.
     * Its first commit also stores an active status entity: the region keeps no checkpoint at 0,
     * so on an empty log the status is what tells a restarted worker that the reactor exists
     * (and must see the events appended meanwhile) rather than being new.
     */
    private function startNewReactorsAtHead(): void
    {
        $this->statuses->reload();
        foreach ($this->reactors as $name => $reactor) {
            if (isset($this->checkpoints[$name])) {
                continue;
            }
            if ($this->statuses->isStored($name)) {
                $this->checkpoints[$name] = 0;
                continue;
            }
            $head = $this->backend()->positions()['committed'];
            $status = ProjectorStatus::named($name, ProjectorStatus::ACTIVE);
            $result = $this->backend()->commit(
                [['upsert', ProjectorStatus::class, $name, $status, $head]],
                [[$name, 0, $head]],
                null,
            );
            if (!empty($result['checkpoint_conflict'])) {
                $head = (int) $result['actual']; // another worker created it first
            } else {
                $this->statuses->remember($status);
            }
            $this->checkpoints[$name] = $head;
            $this->log("reactor $name is new: it starts at the head, position $head (past events do not fire it)");
        }
    }

    private function lowestCheckpoint(bool $withReactors): int
    {
        $runnable = $this->runnableProjectors();
        $positions = array_intersect_key($this->checkpoints, $withReactors
            ? $runnable + $this->reactors
            : $runnable);
        return $positions === [] ? $this->backend()->positions()['committed'] : min($positions);
    }

    /**
     * @param list<string> $names
     * @return array<string, Projector>
     */
    private function selectProjectors(array $names): array
    {
        if ($names === []) {
            return $this->projectors;
        }
        $selected = [];
        foreach ($names as $wanted) {
            $found = null;
            foreach ($this->projectors as $name => $projector) {
                $names = [$name, $projector::class, HandlerMap::shortName($projector::class)];
                if (\in_array(ltrim($wanted, '\\'), $names, true)) {
                    $found = $name;
                    break;
                }
            }
            if ($found === null) {
                throw new \InvalidArgumentException(sprintf(
                    'no projector named %s; the projectors are: %s',
                    $wanted,
                    implode(', ', array_keys($this->projectors)) ?: '(none)',
                ));
            }
            $selected[$found] = $this->projectors[$found];
        }
        return $selected;
    }

    private function uniqueName(EventHandler $handler): string
    {
        $name = $handler->name();
        if ($name === '') {
            throw new \InvalidArgumentException($handler::class . '::name() must not be empty');
        }
        if (isset($this->projectors[$name]) || isset($this->reactors[$name])) {
            throw new \InvalidArgumentException(
                "two projectors/reactors are named $name: checkpoint names must be unique",
            );
        }
        return $name;
    }

    private function backend(): Backend
    {
        return Runtime::backend();
    }

    private function log(string $line): void
    {
        $this->log->line($line);
    }
}
