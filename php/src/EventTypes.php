<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\Runtime;

/**
 * Event class <-> stored type name (alias). Without an alias an event is stored under its class
 * name. Aliases come from EventTypes::register() (the worker bootstrap's 'event_types') or from
 * an #[EventName('…')] attribute on the class; the whole map is handed to the extension
 * (Native::registerEventTypes), which resolves both ways when writing and reading.
 *
 * Writing finds an attribute by itself (persist() checks each class once). Reading a stored
 * alias needs the class known beforehand: register the classes (a list is fine: their
 * attributes are read) in the app's bootstrap.
 */
final class EventTypes
{
    /** @var array<class-string<Event>, string> */
    private static array $aliases = [];

    /** @var array<string, true> classes whose attribute was read */
    private static array $inspected = [];

    /**
     * @param array<int|class-string<Event>, string> $types class => alias, or a list of classes
     *     whose #[EventName] attribute gives the alias
     */
    public static function register(array $types): void
    {
        $changed = false;
        foreach ($types as $class => $alias) {
            if (\is_int($class)) {
                $class = $alias;
                $alias = self::attributeAlias($class);
                if ($alias === null) {
                    continue;
                }
            }
            $changed = self::add($class, $alias) || $changed;
        }
        if ($changed) {
            Runtime::backend()->registerEventTypes(self::$aliases);
        }
    }

    /** Called by persist() for every event class it writes: picks up an #[EventName] once. */
    public static function ensureKnown(string $class): void
    {
        if (isset(self::$inspected[$class])) {
            return;
        }
        $alias = self::attributeAlias($class);
        if ($alias !== null && self::add($class, $alias)) {
            Runtime::backend()->registerEventTypes(self::$aliases);
        }
    }

    /** The stored type name of an event class. */
    public static function typeOf(string $class): string
    {
        self::ensureKnown($class);
        return self::$aliases[$class] ?? $class;
    }

    /** The class a stored type name resolves to. */
    public static function classOf(string $type): string
    {
        $class = array_search($type, self::$aliases, true);
        return $class === false ? $type : $class;
    }

    /** @return array<class-string<Event>, string> */
    public static function map(): array
    {
        return self::$aliases;
    }

    /** Forgets everything (tests). */
    public static function reset(): void
    {
        self::$aliases = [];
        self::$inspected = [];
    }

    private static function add(string $class, string $alias): bool
    {
        if (!is_subclass_of($class, Event::class)) {
            throw new \InvalidArgumentException("$class is not an event class (it must extend " . Event::class . ')');
        }
        if ($alias === '') {
            throw new \InvalidArgumentException("$class: the event type alias must not be empty");
        }
        $owner = array_search($alias, self::$aliases, true);
        if ($owner !== false && $owner !== $class) {
            throw new \InvalidArgumentException("event type alias '$alias' is used by both $owner and $class");
        }
        if (isset(self::$aliases[$class]) && self::$aliases[$class] !== $alias) {
            throw new \InvalidArgumentException(
                "$class already has the event type alias '" . self::$aliases[$class] . "', not '$alias'",
            );
        }
        $new = !isset(self::$aliases[$class]);
        self::$aliases[$class] = $alias;
        return $new;
    }

    private static function attributeAlias(string $class): ?string
    {
        self::$inspected[$class] = true;
        if (!class_exists($class)) {
            throw new \InvalidArgumentException("event class $class cannot be loaded");
        }
        $attributes = (new \ReflectionClass($class))->getAttributes(EventName::class);
        return $attributes === [] ? null : $attributes[0]->newInstance()->name;
    }
}
