<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

/**
 * `php artisan make:projector Name`: a new eventsrv projector class in app/Projectors/.
 */
final class MakeProjectorCommand extends GeneratesClass
{
    /** @var string */
    protected $name = 'make:projector';

    /** @var string */
    protected $description = 'Create a new eventsrv projector class';

    /** @var string */
    protected $type = 'Projector';

    protected function stubName(): string
    {
        return 'projector';
    }

    protected function subNamespace(): string
    {
        return 'Projectors';
    }
}
