<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\Event;
use EventSrv\EventHandler;
use EventSrv\Projector;
use EventSrv\Reactor;

/**
 * Finds which methods of a class handle an event class, by reflection once per class and once
 * per (class, event class) pair:
 *  - a public or protected method named <prefix><EventShortName> (onAccountCreated,
 *    applyAccountCreated), untyped or typed with a type the event satisfies;
 *  - with $byType, also any public method whose single parameter is typed with an Event subclass
 *    the event is an instance of (a method named after the event and typed is found once).
 *
 * @internal
 */
final class HandlerMap
{
    /**
     * class => prefix => candidates
     *
     * @var array<string, array<string, list<array{method: string, byName: ?string, types: ?list<string>,
     *     public: bool}>>>
     */
    private static array $candidates = [];

    /**
     * prefix => byType => class => event class => methods: nested lookups of strings PHP has
     * already hashed (class names are interned), no key string built per event.
     *
     * @var array<string, array<int, array<string, array<string, list<string>>>>>
     */
    private static array $resolved = [];

    /**
     * @param class-string $class the handler class (projector, reactor, aggregate)
     * @param class-string<Event> $eventClass
     * @param list<class-string> $baseClasses methods declared in these are never handlers
     * @return list<string> method names, in declaration order
     */
    public static function methodsFor(
        string $class,
        string $eventClass,
        string $prefix,
        bool $byType,
        array $baseClasses,
    ): array {
        return self::$resolved[$prefix][(int) $byType][$class][$eventClass]
            ??= self::resolve($class, $eventClass, $prefix, $byType, $baseClasses);
    }

    /**
     * The methods EventHandler::handle() runs on a projector or reactor class for an event class:
     * "on" methods, by name or by type, none declared by the handler base classes.
     *
     * @param class-string<EventHandler> $class
     * @param class-string<Event> $eventClass
     * @return list<string> method names, in declaration order
     */
    public static function handlerMethods(string $class, string $eventClass): array
    {
        return self::methodsFor(
            $class,
            $eventClass,
            'on',
            true,
            [EventHandler::class, Projector::class, Reactor::class],
        );
    }

    /**
     * What EventHandler::handle() runs for an event class (handlerMethods()), as closures bound
     * to $handler: the worker calls them directly, without handle()'s lookups and dynamic method
     * call per event.
     *
     * @param class-string<Event> $eventClass
     * @return array<string, \Closure(Event): mixed> method name => the method bound to $handler
     */
    public static function closuresFor(EventHandler $handler, string $eventClass): array
    {
        $closures = [];
        foreach (self::handlerMethods($handler::class, $eventClass) as $method) {
            $closures[$method] = (new \ReflectionMethod($handler, $method))->getClosure($handler);
        }
        return $closures;
    }

    public static function shortName(string $class): string
    {
        $separator = strrpos($class, '\\');
        return $separator === false ? $class : substr($class, $separator + 1);
    }

    /**
     * @param list<class-string> $baseClasses
     * @return list<string>
     */
    private static function resolve(
        string $class,
        string $eventClass,
        string $prefix,
        bool $byType,
        array $baseClasses,
    ): array {
        $shortName = self::shortName($eventClass);
        $methods = [];
        foreach (self::candidates($class, $prefix, $baseClasses) as $candidate) {
            $types = $candidate['types'];
            $accepts = $types === null;
            foreach ($types ?? [] as $type) {
                $accepts = $accepts || is_a($eventClass, $type, true);
            }
            $named = $candidate['byName'] !== null && strcasecmp($candidate['byName'], $shortName) === 0;
            if ($named && $accepts) {
                $methods[] = $candidate['method'];
                continue;
            }
            if (!$byType || !$candidate['public'] || $types === null) {
                continue;
            }
            foreach ($types as $type) {
                if (is_subclass_of($type, Event::class) && is_a($eventClass, $type, true)) {
                    $methods[] = $candidate['method'];
                    break;
                }
            }
        }
        return $methods;
    }

    /**
     * @param list<class-string> $baseClasses
     * @return list<array{method: string, byName: ?string, types: ?list<string>, public: bool}>
     */
    private static function candidates(string $class, string $prefix, array $baseClasses): array
    {
        if (isset(self::$candidates[$class][$prefix])) {
            return self::$candidates[$class][$prefix];
        }
        $candidates = [];
        $reflection = new \ReflectionClass($class);
        $filter = \ReflectionMethod::IS_PUBLIC | \ReflectionMethod::IS_PROTECTED;
        foreach ($reflection->getMethods($filter) as $method) {
            $name = $method->getName();
            if (
                $method->isStatic()
                || $method->isAbstract()
                || str_starts_with($name, '__')
                || \in_array($method->getDeclaringClass()->getName(), $baseClasses, true)
                || $method->getNumberOfParameters() < 1
                || $method->getNumberOfRequiredParameters() > 1
            ) {
                continue;
            }
            $byName = null;
            if (\strlen($name) > \strlen($prefix) && strncasecmp($name, $prefix, \strlen($prefix)) === 0) {
                $byName = substr($name, \strlen($prefix));
            }
            $types = self::parameterTypes($method->getParameters()[0]);
            $isTypedHandler = false;
            foreach ($types ?? [] as $type) {
                $isTypedHandler = $isTypedHandler || is_subclass_of($type, Event::class);
            }
            if ($byName === null && !$isTypedHandler) {
                continue;
            }
            $candidates[] = [
                'method' => $name,
                'byName' => $byName,
                'types' => $types,
                'public' => $method->isPublic(),
            ];
        }
        return self::$candidates[$class][$prefix] = $candidates;
    }

    /** @return list<string>|null class names of the parameter's type; null: untyped */
    private static function parameterTypes(\ReflectionParameter $parameter): ?array
    {
        $type = $parameter->getType();
        if ($type === null) {
            return null;
        }
        $named = $type instanceof \ReflectionUnionType ? $type->getTypes() : [$type];
        $types = [];
        foreach ($named as $one) {
            if ($one instanceof \ReflectionNamedType && !$one->isBuiltin()) {
                $types[] = $one->getName();
            } elseif ($one instanceof \ReflectionNamedType && \in_array($one->getName(), ['mixed', 'object'], true)) {
                return null; // accepts anything, like an untyped parameter
            }
        }
        return $types;
    }
}
