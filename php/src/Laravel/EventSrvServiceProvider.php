<?php

declare(strict_types=1);

namespace EventSrv\Laravel;

use EventSrv\EventTypes;
use Illuminate\Contracts\Container\Container;
use Illuminate\Support\ServiceProvider;

/**
 * eventsrv in a Laravel app: merges and publishes config/eventsrv.php, binds the projector and
 * reactor registry, registers the event type aliases and the artisan commands.
 *
 * Entities and aggregates need no binding: Account::all() and
 * AccountAggregateRoot::retrieve($uuid) talk to the extension directly.
 */
final class EventSrvServiceProvider extends ServiceProvider
{
    private const CONFIG = __DIR__ . '/config/eventsrv.php';

    public function register(): void
    {
        $this->mergeConfigFrom(self::CONFIG, 'eventsrv');

        $this->app->singleton(HandlerRegistry::class, static function (Container $app): HandlerRegistry {
            $config = $app->make('config');
            return new HandlerRegistry(
                $app,
                (array) $config->get('eventsrv.projectors', []),
                (array) $config->get('eventsrv.reactors', []),
                (array) $config->get('eventsrv.discover', []),
            );
        });
    }

    public function boot(): void
    {
        $eventTypes = (array) $this->app->make('config')->get('eventsrv.event_types', []);
        if ($eventTypes !== []) {
            EventTypes::register($eventTypes);
        }

        if ($this->app->runningInConsole()) {
            $this->publishes([self::CONFIG => $this->app->configPath('eventsrv.php')], 'eventsrv-config');
            $this->commands([
                Commands\WorkCommand::class,
                Commands\ReplayCommand::class,
                Commands\StatusCommand::class,
                Commands\RetryCommand::class,
                Commands\PauseCommand::class,
                Commands\ResumeCommand::class,
                Commands\MakeAggregateCommand::class,
                Commands\MakeProjectorCommand::class,
                Commands\MakeReactorCommand::class,
                Commands\MakeEventCommand::class,
            ]);
        }
    }
}
