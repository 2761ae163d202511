<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

/**
 * `php artisan make:aggregate Name`: a new eventsrv aggregate root class in app/Aggregates/.
 */
final class MakeAggregateCommand extends GeneratesClass
{
    /** @var string */
    protected $name = 'make:aggregate';

    /** @var string */
    protected $description = 'Create a new eventsrv aggregate root class';

    /** @var string */
    protected $type = 'Aggregate';

    protected function stubName(): string
    {
        return 'aggregate';
    }

    protected function subNamespace(): string
    {
        return 'Aggregates';
    }
}
