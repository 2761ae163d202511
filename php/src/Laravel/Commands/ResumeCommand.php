<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\ProjectorStatus;

/**
 * `php artisan eventsrv:resume {projector}`: running workers run the projector again from its
 * checkpoint.
 */
final class ResumeCommand extends SetsProjectorStatus
{
    /** @var string */
    protected $signature = 'eventsrv:resume
        {projector : Checkpoint name, class name or short class name of the projector}';

    /** @var string */
    protected $description = 'Run a paused eventsrv projector again from its checkpoint';

    protected function statusToSet(): string
    {
        return ProjectorStatus::ACTIVE;
    }
}
