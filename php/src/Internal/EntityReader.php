<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\Entity;

/**
 * Reads entities of one class. Implemented by every Backend and by the worker's batch Overlay.
 *
 * @internal
 */
interface EntityReader
{
    /**
     * @param class-string<Entity> $class
     */
    public function find(string $class, string $uuid): ?Entity;

    /**
     * @param class-string<Entity> $class
     * @return list<Entity> insertion order
     */
    public function all(string $class): array;

    /**
     * @param class-string<Entity> $class
     */
    public function count(string $class): int;
}
