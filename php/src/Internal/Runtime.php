<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\EventTypes;

/**
 * Process-wide wiring of the userland: which backend is in use, and whether a projector batch
 * is active. Plain static state so that the request hot path (Entity::find()) costs one
 * null check before its call into the extension.
 *
 * @internal
 */
final class Runtime
{
    /**
     * Where Entity reads go instead of straight to \EventSrv\Native: null in a normal request;
     * the worker's Overlay while a projector batch runs; the fake backend in tests.
     */
    public static ?EntityReader $entityReads = null;

    /** The active projector batch: non-null exactly while projector handlers may save entities. */
    public static ?Overlay $overlay = null;

    /** True inside the projector worker process (persist() then does not wait for projections). */
    public static bool $inWorker = false;

    private static ?Backend $backend = null;

    private static ?NativeBackend $native = null;

    public static function backend(): Backend
    {
        return self::$backend ?? (self::$native ??= new NativeBackend());
    }

    /** The backend installed with useBackend(), or null when the extension is in use. */
    public static function installedBackend(): ?Backend
    {
        return self::$backend;
    }

    /** Replaces the native backend (tests); null goes back to the extension. */
    public static function useBackend(?Backend $backend): void
    {
        self::$backend = $backend;
        self::$entityReads = self::$overlay ?? $backend;
        $types = EventTypes::map();
        if ($backend !== null && $types !== []) {
            $backend->registerEventTypes($types);
        }
    }

    public static function beginProjecting(Overlay $overlay): void
    {
        self::$overlay = $overlay;
        self::$entityReads = $overlay;
    }

    public static function endProjecting(): void
    {
        self::$overlay = null;
        self::$entityReads = self::$backend;
    }

    /** Back to a pristine process: the native backend, no batch, not a worker. */
    public static function reset(): void
    {
        self::$overlay = null;
        self::$inWorker = false;
        self::useBackend(null);
    }
}
