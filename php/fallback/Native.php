<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Stand-in for the class the eventsrv extension provides. The autoloaders load it only when the
 * extension is missing (a loaded extension declares EventSrv\Native at startup, so this file is
 * never read then): every call says what is wrong instead of "Class not found".
 */
final class Native
{
    /** @param array<mixed> $arguments */
    public static function __callStatic(string $method, array $arguments): never
    {
        throw new EventSrvException(sprintf(
            'EventSrv\Native::%s() needs the eventsrv extension, which is not loaded in this PHP (%s, %s): '
            . 'add extension=eventsrv.so to php.ini or run php -d extension=/path/to/eventsrv.so',
            $method,
            PHP_VERSION,
            PHP_SAPI,
        ));
    }
}
