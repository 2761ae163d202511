<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\Entity;

/**
 * The entity changes of one projector batch, not yet committed. While the batch runs, entity
 * reads go through here, so a handler sees the changes earlier handlers of the same batch made;
 * at the end of the batch changes() becomes the one commit sent to the daemon.
 *
 * A rebuild beside the live projection passes $storedAs (class => shadow class in the region):
 * handlers still see and save their own entity classes, but reads of the committed entities and
 * the commit go to the shadow classes (docs/php.md, "Rebuilding beside the live projection").
 *
 * Insertion order follows the daemon's rules: an updated entity keeps its place, a new one goes
 * to the end, one deleted and created again in the same batch goes to the end too.
 *
 * find() hands out a copy (changing it without save() changes nothing) and save() keeps a
 * snapshot, except for the common find-change-save of one entity: the copy find() handed out last
 * is kept as it is, without a second clone. (Changing that object after its save() without saving
 * again is then seen too; projectors do not do that.)
 *
 * save() and find() run once per event in a replay: each is a few flat array operations (no
 * per-change array is built), and the bookkeeping of deletes stays out of their way.
 *
 * @internal
 */
final class Overlay implements EntityReader
{
    /** Position of the event being handled: recorded with each upsert. */
    public int $position = 0;

    /**
     * class => uuid => the entity saved in this batch, or false: deleted in this batch. Its order
     * is the commit's order.
     *
     * @var array<class-string<Entity>, array<string, Entity|false>>
     */
    private array $saved = [];

    /**
     * class => uuid => position of the event that saved the entity last.
     *
     * @var array<class-string<Entity>, array<string, int>>
     */
    private array $savedAt = [];

    /**
     * class => uuid => true: the committed entity must be deleted first (it was deleted in this
     * batch, maybe created again since).
     *
     * @var array<class-string<Entity>, array<string, true>>
     */
    private array $dropStored = [];

    /**
     * The copy find() handed out last: save() keeps it as it is when it gets it back. Untyped on
     * purpose, like Context::$handled: written per event, and a class-typed property write
     * looks the class up by name when opcache is off.
     *
     * @var Entity|null
     */
    private $lent = null;

    /** @param array<class-string<Entity>, string> $storedAs class => region class it is stored as */
    public function __construct(private EntityReader $committed, private array $storedAs = [])
    {
    }

    /** @param class-string<Entity> $class */
    private function stored(string $class): string
    {
        return $this->storedAs[$class] ?? $class;
    }

    public function save(Entity $entity): void
    {
        if ($this->lent === $entity) {
            $this->lent = null;
        } else {
            $entity = clone $entity;
        }
        $class = $entity::class;
        $uuid = $entity->uuid;
        if (($this->saved[$class][$uuid] ?? null) === false) {
            unset($this->saved[$class][$uuid]); // created again after a delete: goes to the end
        }
        // saved before in this batch: updated in place, keeps its place
        $this->saved[$class][$uuid] = $entity;
        $this->savedAt[$class][$uuid] = $this->position;
    }

    /** @param class-string<Entity> $class */
    public function delete(string $class, string $uuid): void
    {
        $dropStored = isset($this->dropStored[$class][$uuid])
            || $this->committed->find($this->stored($class), $uuid) !== null;
        if (!$dropStored && !isset($this->saved[$class][$uuid])) {
            return; // neither stored nor saved in this batch: nothing to delete
        }
        if ($dropStored) {
            $this->dropStored[$class][$uuid] = true;
        }
        $this->saved[$class][$uuid] = false;
        unset($this->savedAt[$class][$uuid]);
    }

    public function find(string $class, string $uuid): ?Entity
    {
        $saved = $this->saved[$class][$uuid] ?? null;
        if ($saved === false) {
            return null;
        }
        $found = $saved === null ? $this->committed->find($this->stored($class), $uuid) : clone $saved;
        if ($found !== null) {
            $this->lent = $found;
        }
        return $found;
    }

    public function all(string $class): array
    {
        $saved = $this->saved[$class] ?? [];
        if ($saved === []) {
            return $this->committed->all($this->stored($class));
        }
        $dropStored = $this->dropStored[$class] ?? [];
        $entities = [];
        $listed = [];
        foreach ($this->committed->all($this->stored($class)) as $stored) {
            $entity = $saved[$stored->uuid] ?? null;
            if ($entity === null) {
                $entities[] = $stored;
                continue;
            }
            $listed[$stored->uuid] = true;
            if ($entity !== false && !isset($dropStored[$stored->uuid])) {
                $entities[] = clone $entity;
            } elseif ($entity !== false) {
                unset($listed[$stored->uuid]); // re-created: listed at the end below
            }
        }
        foreach ($saved as $uuid => $entity) {
            if ($entity !== false && !isset($listed[$uuid])) {
                $entities[] = clone $entity;
            }
        }
        return $entities;
    }

    public function count(string $class): int
    {
        if (($this->saved[$class] ?? []) === []) {
            return $this->committed->count($this->stored($class));
        }
        return \count($this->all($class));
    }

    public function isEmpty(): bool
    {
        return $this->saved === [];
    }

    /**
     * The batch's changes in the daemon's commit format (docs/extension.md, commit()).
     *
     * @return list<array<int, mixed>>
     */
    public function changes(): array
    {
        $list = [];
        foreach ($this->saved as $class => $byUuid) {
            $stored = $this->stored($class);
            $dropStored = $this->dropStored[$class] ?? [];
            foreach ($byUuid as $uuid => $entity) {
                $uuid = (string) $uuid;
                if (isset($dropStored[$uuid])) {
                    $list[] = ['delete', $stored, $uuid];
                }
                if ($entity !== false) {
                    $list[] = ['upsert', $stored, $uuid, $entity, $this->savedAt[$class][$uuid]];
                }
            }
        }
        return $list;
    }
}
