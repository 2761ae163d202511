<?php

declare(strict_types=1);

namespace EventSrv\Laravel;

use EventSrv\EventHandler;

/**
 * Finds the concrete Projector and Reactor classes in PSR-4 directories (the `discover` setting),
 * like Laravel's event discovery: file path → class name, then a reflection check.
 */
final class HandlerDiscovery
{
    /** Bound on the files one directory may hold: discovery is meant for app folders, not vendor/. */
    private const FILES_MAX = 10_000;

    /**
     * @param array<string, string> $directories path => namespace
     * @return list<class-string<EventHandler>> sorted by class name, so the order is stable
     */
    public static function within(array $directories): array
    {
        $found = [];
        foreach ($directories as $path => $namespace) {
            if (!is_dir($path)) {
                throw new \InvalidArgumentException("eventsrv.discover: $path is not a directory");
            }
            $base = rtrim((string) realpath($path), '/') . '/';
            $files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($base, \FilesystemIterator::SKIP_DOTS));
            $seen = 0;
            foreach ($files as $file) {
                if (++$seen > self::FILES_MAX) {
                    throw new \LengthException("eventsrv.discover: more than " . self::FILES_MAX . " files under $path");
                }
                if ($file->getExtension() !== 'php') {
                    continue;
                }
                $relative = substr($file->getPathname(), \strlen($base), -4);
                $class = trim($namespace, '\\') . '\\' . str_replace('/', '\\', $relative);
                if (self::isHandler($class)) {
                    $found[] = $class;
                }
            }
        }
        sort($found);
        return $found;
    }

    private static function isHandler(string $class): bool
    {
        if (!class_exists($class)) {
            return false;
        }
        return is_subclass_of($class, EventHandler::class) && !(new \ReflectionClass($class))->isAbstract();
    }
}
