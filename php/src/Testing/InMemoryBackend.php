<?php

declare(strict_types=1);

namespace EventSrv\Testing;

use EventSrv\Entity;
use EventSrv\Event;
use EventSrv\EventMeta;
use EventSrv\EventTypes;
use EventSrv\FrameTooLargeException;
use EventSrv\Internal\Backend;
use EventSrv\Internal\Runtime;
use EventSrv\UnknownEventTypeException;
use EventSrv\Upcasters;
use EventSrv\Uuid;

/**
 * A fake of the eventsrv extension and daemon in plain PHP memory, for tests of apps and of the
 * userland itself: events, streams, entities, checkpoints and positions behave as
 * docs/extension.md describes, without shared memory or a socket. Values are copied in and out
 * the way the extension does (public properties only, constructors not called), so tests see
 * what the real thing would give them.
 *
 *     $backend = InMemoryBackend::install();   // every EventSrv class now uses it
 *     …
 *     InMemoryBackend::uninstall();
 */
final class InMemoryBackend implements Backend
{
    /** Commits with more changes than this throw FrameTooLargeException (null: no limit). */
    public ?int $changesPerCommitMax = null;

    /** What persistWaitMs() returns (the real one reads eventsrv.persist_wait_ms). */
    public int $persistWaitMs = 0;

    /**
     * The log: what the daemon stores per event.
     *
     * @var list<array{position: int, stream: string, version: int, recorded_at_us: int, event_id: string,
     *     type: string, metadata: array<string, mixed>, payload: array<string, mixed>}>
     */
    private array $events = [];

    /** @var array<string, list<int>> stream => indexes into $events */
    private array $streams = [];

    /** @var array<string, array<string, array<string, mixed>>> class => uuid => properties */
    private array $entities = [];

    /** @var array<string, int> */
    private array $checkpoints = [];

    private int $projected = 0;

    private int $workers = 0;

    /** @var array<string, string> class => the type it is written under */
    private array $types = [];

    /** @var array<string, string> every registered type (aliases too) => class */
    private array $typeClasses = [];

    /** @var list<array{changes: list<array<int, mixed>>, checkpoints: list<array<int, mixed>>, projected: ?int}> */
    private array $commits = [];

    /** @var list<array{position: int, timeout_ms: int}> */
    private array $projectionWaits = [];

    public static function install(): self
    {
        $backend = new self();
        Runtime::useBackend($backend);
        return $backend;
    }

    public static function uninstall(): void
    {
        Runtime::reset();
    }

    public function find(string $class, string $uuid): ?Entity
    {
        $properties = $this->entities[$class][$uuid] ?? null;
        return $properties === null ? null : self::hydrate($class, $properties);
    }

    public function all(string $class): array
    {
        $entities = [];
        foreach ($this->entities[$class] ?? [] as $properties) {
            $entities[] = self::hydrate($class, $properties);
        }
        return $entities;
    }

    public function count(string $class): int
    {
        return \count($this->entities[$class] ?? []);
    }

    public function streamVersion(string $stream): int
    {
        return \count($this->streams[$stream] ?? []);
    }

    public function streamEvents(string $stream, int $afterVersion = 0): array
    {
        $events = [];
        foreach (\array_slice($this->streams[$stream] ?? [], max(0, $afterVersion)) as $index) {
            $events[] = $this->eventAt($index);
        }
        return $events;
    }

    public function eventsAfter(int $position, int $limit): array
    {
        $events = [];
        $end = min(\count($this->events), max(0, $position) + min($limit, 10_000));
        for ($index = max(0, $position); $index < $end; $index++) {
            $events[] = $this->eventAt($index);
        }
        return $events;
    }

    public function waitForEvents(int $afterPosition, int $timeoutMs): int
    {
        return \count($this->events); // nothing else can append while a test runs: never sleeps
    }

    public function waitForProjection(int $position, int $timeoutMs): bool
    {
        $this->projectionWaits[] = ['position' => $position, 'timeout_ms' => $timeoutMs];
        return $this->projected >= $position;
    }

    public function positions(): array
    {
        return [
            'committed' => \count($this->events),
            'projected' => $this->projected,
            'generation' => 1,
            'workers' => $this->workers,
            'daemon_pid' => 0,
            'state' => 'live',
        ];
    }

    public function checkpoint(string $name): int
    {
        return $this->checkpoints[$name] ?? 0;
    }

    public function checkpoints(): array
    {
        return $this->checkpoints;
    }

    public function append(string $stream, int $expectedVersion, array $events, array $metadata): array
    {
        $actual = $this->streamVersion($stream);
        if ($expectedVersion !== -1 && $expectedVersion !== $actual) {
            return ['conflict' => true, 'expected' => $expectedVersion, 'actual' => $actual];
        }
        if (\count($events) !== \count($metadata)) {
            throw new \InvalidArgumentException('append(): one metadata array per event');
        }
        $first = \count($this->events) + 1;
        foreach (array_values($events) as $i => $event) {
            if (!$event instanceof Event) {
                throw new \InvalidArgumentException('append(): ' . get_debug_type($event) . ' is not an event');
            }
            $this->events[] = [
                'position' => \count($this->events) + 1,
                'stream' => $stream,
                'version' => ++$actual,
                'recorded_at_us' => (int) (microtime(true) * 1_000_000),
                'event_id' => Uuid::v7(),
                'type' => $this->types[$event::class] ?? $event::class,
                'metadata' => self::copy($metadata[$i]),
                'payload' => self::copy(self::publicProperties($event)),
            ];
            $this->streams[$stream][] = \count($this->events) - 1;
        }
        return ['first_position' => $first, 'last_position' => \count($this->events), 'version' => $actual];
    }

    public function commit(array $changes, array $checkpoints, ?int $projectedPosition): array
    {
        if ($this->changesPerCommitMax !== null && \count($changes) > $this->changesPerCommitMax) {
            throw new FrameTooLargeException(sprintf(
                'commit of %d changes exceeds the test limit of %d',
                \count($changes),
                $this->changesPerCommitMax,
            ));
        }
        foreach ($checkpoints as [$name, $expected, $position]) {
            $actual = $this->checkpoints[$name] ?? 0;
            if ($actual !== $expected) {
                return ['checkpoint_conflict' => true, 'name' => $name, 'expected' => $expected, 'actual' => $actual];
            }
        }
        $this->commits[] = ['changes' => $changes, 'checkpoints' => $checkpoints, 'projected' => $projectedPosition];
        foreach ($changes as $change) {
            match ($change[0]) {
                'upsert' => $this->entities[$change[1]][$change[2]] = self::copy(self::publicProperties($change[3])),
                'delete' => $this->deleteEntity($change[1], $change[2]),
                'reset' => $this->entities[$change[1]] = [],
                'swap' => [$this->entities[$change[1]], $this->entities[$change[2]]] = [$this->entities[$change[2]] ?? [], []],
            };
        }
        foreach ($checkpoints as [$name, , $position]) {
            $this->checkpoints[$name] = $position;
        }
        if ($projectedPosition !== null) {
            $this->projected = $projectedPosition;
        }
        return ['position' => \count($this->events)];
    }

    public function attachWorker(): void
    {
        $this->workers++;
    }

    public function registerEventTypes(array $classToType): void
    {
        foreach ($classToType as $class => $names) {
            $names = \is_array($names) ? array_values($names) : [$names];
            $this->types[$class] = $names[0];
            foreach ($names as $name) {
                $this->typeClasses[$name] = $class;
            }
        }
    }

    public function persistWaitMs(): int
    {
        return $this->persistWaitMs;
    }

    // ---- test conveniences (not part of the native API) ----

    /**
     * Appends events as if some other process did, without an aggregate.
     *
     * @param list<Event> $events
     * @param array<string, mixed> $metadata for each event
     */
    public function given(string $stream, array $events, array $metadata = []): void
    {
        $result = $this->append($stream, -1, $events, array_fill(0, \count($events), $metadata));
        \assert(!isset($result['conflict']));
    }

    /**
     * Appends one event as stored by older code: a type name and a payload array as they are in
     * the log (e.g. an old class name, an old payload shape with its 'event_version' in the
     * metadata), to test aliases and upcasters.
     *
     * @param array<string, mixed> $payload
     * @param array<string, mixed> $metadata
     */
    public function givenStored(string $stream, string $type, array $payload, array $metadata = []): void
    {
        $this->events[] = [
            'position' => \count($this->events) + 1,
            'stream' => $stream,
            'version' => $this->streamVersion($stream) + 1,
            'recorded_at_us' => (int) (microtime(true) * 1_000_000),
            'event_id' => Uuid::v7(),
            'type' => $type,
            'metadata' => self::copy($metadata),
            'payload' => self::copy($payload),
        ];
        $this->streams[$stream][] = \count($this->events) - 1;
    }

    /** @return list<array{changes: list<array<int, mixed>>, checkpoints: list<array<int, mixed>>, projected: ?int}> */
    public function commits(): array
    {
        return $this->commits;
    }

    /** @return list<array{position: int, timeout_ms: int}> */
    public function projectionWaits(): array
    {
        return $this->projectionWaits;
    }

    public function projectedPosition(): int
    {
        return $this->projected;
    }

    public function setCheckpoint(string $name, int $position): void
    {
        $this->checkpoints[$name] = $position;
    }

    private function deleteEntity(string $class, string $uuid): void
    {
        unset($this->entities[$class][$uuid]);
    }

    private function eventAt(int $index): Event
    {
        $record = $this->events[$index];
        $class = $this->typeClasses[$record['type']] ?? EventTypes::classOf($record['type']);
        if (!class_exists($class) || !is_subclass_of($class, Event::class)) {
            throw new UnknownEventTypeException(sprintf(
                'stored event type %s (position %d) has no alias and is no loadable event class',
                $record['type'],
                $record['position'],
            ));
        }
        $meta = $record;
        unset($meta['payload']);
        $payload = $record['payload'];
        // As the extension does: only classes with upcasters, only when the version differs.
        if (Upcasters::has($class)) {
            $stored = $record['metadata'][EventMeta::EVENT_VERSION] ?? 1;
            $stored = \is_int($stored) ? $stored : 1;
            if ($stored !== EventTypes::versionOf($class)) {
                $payload = Upcasters::upcastStored($record['type'], $stored, self::copy($payload), $meta);
            }
        }
        $event = self::hydrate($class, $payload);
        \Closure::bind(static function (Event $event) use ($meta): void {
            $event->meta = $meta;
        }, null, Event::class)($event);
        return $event;
    }

    /**
     * Like the extension: no constructor; properties set in the scope of the class that declares
     * them (so readonly works); stored properties the class no longer declares are skipped.
     *
     * @template T of object
     * @param class-string<T> $class
     * @param array<string, mixed> $properties
     * @return T
     */
    private static function hydrate(string $class, array $properties): object
    {
        $reflection = new \ReflectionClass($class);
        $object = $reflection->newInstanceWithoutConstructor();
        foreach (self::copy($properties) as $name => $value) {
            if (!$reflection->hasProperty($name)) {
                continue;
            }
            $declaring = $reflection->getProperty($name)->getDeclaringClass()->getName();
            \Closure::bind(static function (object $object) use ($name, $value): void {
                $object->{$name} = $value;
            }, null, $declaring)($object);
        }
        return $object;
    }

    /** @return array<string, mixed> initialized public non-static properties, in declaration order */
    private static function publicProperties(object $object): array
    {
        return \Closure::bind(static fn (object $object): array => get_object_vars($object), null, null)($object);
    }

    /**
     * A deep copy, the way the value codec makes one (objects included).
     *
     * @param array<mixed> $value
     * @return array<mixed>
     */
    private static function copy(array $value): array
    {
        return unserialize(serialize($value));
    }
}
