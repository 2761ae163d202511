<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

/**
 * `php artisan make:reactor Name`: a new eventsrv reactor class in app/Reactors/.
 */
final class MakeReactorCommand extends GeneratesClass
{
    /** @var string */
    protected $name = 'make:reactor';

    /** @var string */
    protected $description = 'Create a new eventsrv reactor class';

    /** @var string */
    protected $type = 'Reactor';

    protected function stubName(): string
    {
        return 'reactor';
    }

    protected function subNamespace(): string
    {
        return 'Reactors';
    }
}
