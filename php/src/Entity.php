<?php

declare(strict_types=1);

namespace EventSrv;

use EventSrv\Internal\Runtime;

/**
 * A projected read model: a plain object with public typed properties, identified by
 * `public string $uuid`. Requests read entities straight from shared memory:
 *
 *     Account::find($uuid)?->balance;
 *     Account::all();
 *     Account::query()->where('balance', '>', 100)->orderBy('name')->get();
 *
 * State comes from events, so only a Projector handler (run by the Worker) may save() or
 * delete() an entity; elsewhere they throw StateException. Within a worker batch, reads see the
 * batch's own earlier changes. Stored are the initialized public non-static properties;
 * constructors are not called when reading.
 */
abstract class Entity implements \JsonSerializable
{
    public string $uuid;

    /**
     * The hot path of every request: one null check, one call into the extension.
     */
    public static function find(string $uuid): ?static
    {
        return Runtime::$entityReads === null
            ? Native::find(static::class, $uuid)
            : Runtime::$entityReads->find(static::class, $uuid);
    }

    /** @return list<static> in insertion order */
    public static function all(): array
    {
        return Runtime::$entityReads === null
            ? Native::all(static::class)
            : Runtime::$entityReads->all(static::class);
    }

    public static function count(): int
    {
        return Runtime::$entityReads === null
            ? Native::count(static::class)
            : Runtime::$entityReads->count(static::class);
    }

    /** @return Query<static> */
    public static function query(): Query
    {
        return new Query(static::class);
    }

    /** Creates or updates this entity: only inside a Projector handler. */
    public function save(): void
    {
        $overlay = Runtime::$overlay ?? throw self::notInProjector(static::class, 'save');
        if (!isset($this->uuid) || $this->uuid === '') {
            throw new \LogicException(static::class . '::save(): set $uuid first');
        }
        $overlay->save($this);
    }

    /** Deletes this entity: only inside a Projector handler. */
    public function delete(): void
    {
        $overlay = Runtime::$overlay ?? throw self::notInProjector(static::class, 'delete');
        if (!isset($this->uuid)) {
            throw new \LogicException(static::class . '::delete(): the entity has no $uuid');
        }
        $overlay->delete(static::class, $this->uuid);
    }

    /** @return array<string, mixed> the initialized public properties */
    public function jsonSerialize(): array
    {
        return \Closure::bind(static fn (object $entity): array => get_object_vars($entity), null, null)($this);
    }

    private static function notInProjector(string $class, string $operation): StateException
    {
        return new StateException(sprintf(
            'state comes from events: change %s inside a Projector handler, not in a request '
            . '(%s() is only allowed while the Worker runs a projector)',
            $class,
            $operation,
        ));
    }
}
