<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\ProjectorStatus;

/**
 * `php artisan eventsrv:pause {projector}`: running workers skip the projector until it is
 * resumed; its checkpoint stays.
 */
final class PauseCommand extends SetsProjectorStatus
{
    /** @var string */
    protected $signature = 'eventsrv:pause
        {projector : Checkpoint name, class name or short class name of the projector}';

    /** @var string */
    protected $description = 'Stop running an eventsrv projector until it is resumed';

    protected function statusToSet(): string
    {
        return ProjectorStatus::PAUSED;
    }
}
