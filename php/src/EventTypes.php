<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\Runtime;

/**
 * Event class <-> stored type names, and the current payload version of each event class.
 * Without an #[EventName] an event is stored under its class name. Names come from
 * EventTypes::register() (the worker bootstrap's 'event_types') or from an #[EventName('…',
 * aliases: […])] attribute on the class; the whole map is handed to the extension
 * (Native::registerEventTypes), which resolves both ways when writing and reading: the first
 * name of a class is written, every name (aliases too) reads back as the class.
 *
 * Writing finds an attribute by itself (persist() checks each class once). Reading a stored
 * name needs the class known beforehand: register the classes (a list is fine: their
 * attributes are read) in the app's bootstrap.
 */
final class EventTypes
{
    /** @var array<class-string<Event>, non-empty-list<string>> class => names, the written one first */
    private static array $names = [];

    /** @var array<string, class-string<Event>> every name => its class */
    private static array $classes = [];

    /** @var array<string, true> classes whose attribute was read */
    private static array $inspected = [];

    /** @var array<string, int> class => #[EventVersion] */
    private static array $versions = [];

    /**
     * class => #[EventVersion], for classes ensureKnown() has seen: versionToWrite()'s answers.
     * persist() reads it per event (a miss falls back to versionToWrite()), which then costs no
     * call. Never write it from outside this class.
     *
     * @internal
     * @var array<string, int>
     */
    public static array $versionsToWrite = [];

    /**
     * @param array<int|class-string<Event>, string|list<string>> $types class => name (or
     *     names, the written one first), or a list of classes whose #[EventName] gives the names
     */
    public static function register(array $types): void
    {
        $changed = false;
        foreach ($types as $class => $names) {
            if (\is_int($class)) {
                $class = $names;
                $names = self::attributeNames($class);
                if ($names === null) {
                    continue;
                }
            }
            $changed = self::add($class, \is_array($names) ? array_values($names) : [$names]) || $changed;
        }
        if ($changed) {
            self::publish();
        }
    }

    /** Called by persist() for every event class it writes: picks up an #[EventName] once. */
    public static function ensureKnown(string $class): void
    {
        if (isset(self::$inspected[$class])) {
            return;
        }
        $names = self::attributeNames($class);
        if ($names !== null && self::add($class, $names)) {
            self::publish();
        }
    }

    /**
     * ensureKnown() and versionOf() in one lookup, for persist(): the version new events of
     * the class are written with, after picking up its #[EventName] (once per class).
     */
    public static function versionToWrite(string $class): int
    {
        if (isset(self::$versionsToWrite[$class])) {
            return self::$versionsToWrite[$class];
        }
        self::ensureKnown($class);
        return self::$versionsToWrite[$class] = self::versionOf($class);
    }

    /** The stored type name new events of a class are written under. */
    public static function typeOf(string $class): string
    {
        self::ensureKnown($class);
        return self::$names[$class][0] ?? $class;
    }

    /**
     * Every stored type name that reads back as the class (the written one first).
     *
     * @return non-empty-list<string>
     */
    public static function namesOf(string $class): array
    {
        self::ensureKnown($class);
        return self::$names[$class] ?? [$class];
    }

    /** The class a stored type name resolves to. */
    public static function classOf(string $type): string
    {
        return self::$classes[$type] ?? $type;
    }

    /** The current payload version of an event class: its #[EventVersion], else 1. */
    public static function versionOf(string $class): int
    {
        if (!isset(self::$versions[$class])) {
            $attributes = class_exists($class)
                ? (new \ReflectionClass($class))->getAttributes(EventVersion::class)
                : [];
            self::$versions[$class] = $attributes === [] ? 1 : $attributes[0]->newInstance()->version;
        }
        return self::$versions[$class];
    }

    /**
     * What Native::registerEventTypes() takes: class => name, or => names when it has aliases.
     *
     * @return array<class-string<Event>, string|non-empty-list<string>>
     */
    public static function map(): array
    {
        return array_map(static fn (array $names): string|array => \count($names) === 1 ? $names[0] : $names, self::$names);
    }

    /** Forgets everything (tests). */
    public static function reset(): void
    {
        self::$names = [];
        self::$classes = [];
        self::$inspected = [];
        self::$versions = [];
        self::$versionsToWrite = [];
    }

    private static function publish(): void
    {
        Runtime::backend()->registerEventTypes(self::map());
        Upcasters::republish();
    }

    /** @param list<mixed> $names */
    private static function add(string $class, array $names): bool
    {
        if (!is_subclass_of($class, Event::class)) {
            throw new \InvalidArgumentException("$class is not an event class (it must extend " . Event::class . ')');
        }
        if ($names === []) {
            throw new \InvalidArgumentException("$class: give at least one event type name");
        }
        foreach ($names as $name) {
            if (!\is_string($name) || $name === '') {
                throw new \InvalidArgumentException("$class: an event type name must be a non-empty string");
            }
            $owner = self::$classes[$name] ?? null;
            if ($owner !== null && $owner !== $class) {
                throw new \InvalidArgumentException("event type name '$name' is used by both $owner and $class");
            }
            // Only names shaped like a namespaced class are looked up (no autoload per 'a.b' name).
            $classLike = str_contains($name, '\\') && !str_contains($name, '.');
            if ($classLike && $name !== $class && class_exists($name) && is_subclass_of($name, Event::class)) {
                throw new \InvalidArgumentException(
                    "$class cannot take the name '$name': that is another event class, whose own events would read as $class",
                );
            }
        }
        $known = self::$names[$class] ?? null;
        if ($known !== null && $known[0] !== $names[0]) {
            throw new \InvalidArgumentException(
                "$class already has the event type name '{$known[0]}', not '{$names[0]}'",
            );
        }
        $merged = array_values(array_unique([...($known ?? []), ...$names]));
        if ($merged === $known) {
            return false;
        }
        self::$names[$class] = $merged;
        foreach ($merged as $name) {
            self::$classes[$name] = $class;
        }
        return true;
    }

    /** @return non-empty-list<string>|null */
    private static function attributeNames(string $class): ?array
    {
        self::$inspected[$class] = true;
        if (!class_exists($class)) {
            throw new \InvalidArgumentException("event class $class cannot be loaded");
        }
        $attributes = (new \ReflectionClass($class))->getAttributes(EventName::class);
        if ($attributes === []) {
            return null;
        }
        $attribute = $attributes[0]->newInstance();
        return [$attribute->name, ...array_values($attribute->aliases)];
    }
}
