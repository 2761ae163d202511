<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Projector;

/** A second projector with its own checkpoint and entity class. */
final class TagProjector extends Projector
{
    public int $handled = 0;

    public function name(): string
    {
        return 'tags';
    }

    public function entities(): array
    {
        return [Tag::class];
    }

    public function onAccountOpened(AccountOpened $event): void
    {
        $tag = new Tag();
        $tag->uuid = $event->meta()->aggregateUuid();
        $tag->label = strtolower($event->name);
        $tag->save();
        $this->handled++;
    }
}
