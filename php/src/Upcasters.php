<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The per-process registry of upcasters: for each event class, one Upcaster per version step,
 * chained on read from the stored version up to the class's #[EventVersion].
 *
 *     Upcasters::register(BalanceIncreased::class, [1 => new AmountInCents()]);   // v1 → v2
 *
 * The extension learns which stored type names need upcasting (Native::registerUpcasts) and
 * calls upcastStored() only for events of those names stored with an older version; every other
 * event is built without calling PHP. The in-memory test backend calls upcastStored() too.
 * Must never: change an event that is already at the current version.
 */
final class Upcasters
{
    /** @var array<class-string<Event>, array<int, Upcaster>> class => from version => step */
    private static array $steps = [];

    /**
     * @param class-string<Event> $class
     * @param array<int, Upcaster> $steps the version each upcaster reads => the upcaster; together
     *     they must lead without a gap to the class's #[EventVersion]
     */
    public static function register(string $class, array $steps): void
    {
        if (!is_subclass_of($class, Event::class)) {
            throw new \InvalidArgumentException("$class is not an event class (it must extend " . Event::class . ')');
        }
        $current = EventTypes::versionOf($class);
        if ($current < 2) {
            throw new \InvalidArgumentException(
                "$class is at version 1: give it #[EventVersion(2)] (or later) before registering upcasters",
            );
        }
        $merged = (self::$steps[$class] ?? []);
        foreach ($steps as $from => $upcaster) {
            if (!\is_int($from) || $from < 1 || $from >= $current) {
                throw new \InvalidArgumentException(sprintf(
                    '%s: an upcaster is keyed by the version it reads, 1 to %d; got %s',
                    $class,
                    $current - 1,
                    var_export($from, true),
                ));
            }
            if (!$upcaster instanceof Upcaster) {
                throw new \InvalidArgumentException(sprintf(
                    '%s: the upcaster from version %d is a %s, not an %s',
                    $class,
                    $from,
                    get_debug_type($upcaster),
                    Upcaster::class,
                ));
            }
            $merged[$from] = $upcaster;
        }
        if ($merged === []) {
            return;
        }
        for ($version = min(array_keys($merged)); $version < $current; $version++) {
            if (!isset($merged[$version])) {
                throw new \InvalidArgumentException(sprintf(
                    '%s: the upcasters stop at version %d; add the one from version %d to %d',
                    $class,
                    $version,
                    $version,
                    $version + 1,
                ));
            }
        }
        ksort($merged);
        self::$steps[$class] = $merged;
        self::republish();
    }

    /** Whether reading this class may need upcasting. */
    public static function has(string $class): bool
    {
        return isset(self::$steps[$class]);
    }

    /**
     * The payload of an event stored under $type with version $storedVersion, in the shape of
     * its class's current version. Called by the extension (docs/extension.md).
     *
     * @internal
     * @param array<string, mixed> $payload
     * @param array<string, mixed> $meta the event's meta as the extension builds it
     * @return array<string, mixed>
     */
    public static function upcastStored(string $type, int $storedVersion, array $payload, array $meta): array
    {
        $class = EventTypes::classOf($type);
        $current = EventTypes::versionOf($class);
        if ($storedVersion > $current) {
            throw new UnknownEventTypeException(sprintf(
                'event %s at position %d was stored with version %d, but %s is at version %d: '
                . 'this code is older than the code that wrote it',
                $type,
                (int) ($meta['position'] ?? 0),
                $storedVersion,
                $class,
                $current,
            ));
        }
        $eventMeta = new EventMeta($meta);
        for ($version = max(1, $storedVersion); $version < $current; $version++) {
            $upcaster = self::$steps[$class][$version] ?? null;
            if ($upcaster === null) {
                throw new StateException(sprintf(
                    'event %s at position %d is stored with version %d and %s is at version %d, '
                    . 'but no upcaster from version %d is registered (Upcasters::register())',
                    $type,
                    (int) ($meta['position'] ?? 0),
                    $storedVersion,
                    $class,
                    $current,
                    $version,
                ));
            }
            $payload = $upcaster->upcast($payload, $eventMeta);
        }
        return $payload;
    }

    /** Hands the extension the stored names that need upcasting (after names or steps changed). */
    public static function republish(): void
    {
        if (self::$steps === [] || !\extension_loaded('eventsrv')) {
            return;
        }
        $versions = [];
        foreach (self::$steps as $class => $steps) {
            foreach (EventTypes::namesOf($class) as $name) {
                $versions[$name] = EventTypes::versionOf($class);
            }
        }
        Native::registerUpcasts($versions);
    }

    /** Forgets every upcaster (tests). The extension keeps what it was told: it lives per process. */
    public static function reset(): void
    {
        self::$steps = [];
    }
}
