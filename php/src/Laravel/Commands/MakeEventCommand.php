<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

/**
 * `php artisan make:event Name`: a new eventsrv event class in app/Events/.
 *
 * Laravel ships its own make:event (ArtisanServiceProvider, a deferred provider loaded after
 * this package's): in an app that loads it, that one answers to make:event and this generator
 * stays reachable as `make:stored-event`.
 */
final class MakeEventCommand extends GeneratesClass
{
    /** @var string */
    protected $name = 'make:event';

    /** @var string */
    protected $description = 'Create a new eventsrv event class';

    /** @var string */
    protected $type = 'Event';

    public function __construct(\Illuminate\Filesystem\Filesystem $files)
    {
        parent::__construct($files);
        $this->setAliases(['make:stored-event']);
    }

    protected function stubName(): string
    {
        return 'event';
    }

    protected function subNamespace(): string
    {
        return 'Events';
    }
}
