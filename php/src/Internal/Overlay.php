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
 * snapshot, except for the common find-change-save of one entity: the copy find() just handed
 * out for that uuid is kept as it is, without a second clone. (Changing that object after its
 * save() without saving again is then seen too; projectors do not do that.)
 *
 * @internal
 */
final class Overlay implements EntityReader
{
    /** Position of the event being handled: recorded with each upsert. */
    public int $position = 0;

    /**
     * class => uuid => change. entity null: deleted. dropStored: the committed entity must be
     * deleted first (it was deleted in this batch, maybe created again since).
     *
     * @var array<class-string<Entity>, array<string, array{entity: ?Entity, position: int, dropStored: bool}>>
     */
    private array $changes = [];

    /**
     * The object find() last handed out per class and uuid: saved as it is (it is already a
     * copy) when save() gets it back for the same uuid.
     *
     * @var array<class-string<Entity>, array<string, Entity>>
     */
    private array $lent = [];

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
        $class = $entity::class;
        $uuid = $entity->uuid;
        if (($this->lent[$class][$uuid] ?? null) === $entity) {
            unset($this->lent[$class][$uuid]);
        } else {
            $entity = clone $entity;
        }
        if (isset($this->changes[$class][$uuid]['entity'])) {
            // saved before in this batch: updated in place (no new array), keeps its place
            $this->changes[$class][$uuid]['entity'] = $entity;
            $this->changes[$class][$uuid]['position'] = $this->position;
            return;
        }
        $change = $this->changes[$class][$uuid] ?? null;
        if ($change !== null) {
            unset($this->changes[$class][$uuid]); // created again after a delete: goes to the end
        }
        $this->changes[$class][$uuid] = [
            'entity' => $entity,
            'position' => $this->position,
            'dropStored' => $change['dropStored'] ?? false,
        ];
    }

    /** @param class-string<Entity> $class */
    public function delete(string $class, string $uuid): void
    {
        $change = $this->changes[$class][$uuid] ?? null;
        $dropStored = ($change['dropStored'] ?? false) || $this->committed->find($this->stored($class), $uuid) !== null;
        if (!$dropStored && $change === null) {
            return; // neither stored nor saved in this batch: nothing to delete
        }
        $this->changes[$class][$uuid] = ['entity' => null, 'position' => $this->position, 'dropStored' => $dropStored];
    }

    public function find(string $class, string $uuid): ?Entity
    {
        $change = $this->changes[$class][$uuid] ?? null;
        if ($change === null) {
            $found = $this->committed->find($this->stored($class), $uuid);
        } else {
            $found = $change['entity'] === null ? null : clone $change['entity'];
        }
        if ($found !== null) {
            $this->lent[$class][$uuid] = $found;
        }
        return $found;
    }

    public function all(string $class): array
    {
        $changes = $this->changes[$class] ?? [];
        if ($changes === []) {
            return $this->committed->all($this->stored($class));
        }
        $entities = [];
        $listed = [];
        foreach ($this->committed->all($this->stored($class)) as $stored) {
            $change = $changes[$stored->uuid] ?? null;
            if ($change === null) {
                $entities[] = $stored;
                continue;
            }
            $listed[$stored->uuid] = true;
            if ($change['entity'] !== null && !$change['dropStored']) {
                $entities[] = clone $change['entity'];
            } elseif ($change['entity'] !== null) {
                unset($listed[$stored->uuid]); // re-created: listed at the end below
            }
        }
        foreach ($changes as $uuid => $change) {
            if ($change['entity'] !== null && !isset($listed[$uuid])) {
                $entities[] = clone $change['entity'];
            }
        }
        return $entities;
    }

    public function count(string $class): int
    {
        if (($this->changes[$class] ?? []) === []) {
            return $this->committed->count($this->stored($class));
        }
        return \count($this->all($class));
    }

    public function isEmpty(): bool
    {
        return $this->changes === [];
    }

    /**
     * The batch's changes in the daemon's commit format (docs/extension.md, commit()).
     *
     * @return list<array<int, mixed>>
     */
    public function changes(): array
    {
        $list = [];
        foreach ($this->changes as $class => $byUuid) {
            $class = $this->stored($class);
            foreach ($byUuid as $uuid => $change) {
                $uuid = (string) $uuid;
                if ($change['dropStored']) {
                    $list[] = ['delete', $class, $uuid];
                }
                if ($change['entity'] !== null) {
                    $list[] = ['upsert', $class, $uuid, $change['entity'], $change['position']];
                }
            }
        }
        return $list;
    }
}
