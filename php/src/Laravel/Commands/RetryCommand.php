<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\ProjectorStatus;

/**
 * `php artisan eventsrv:retry {projector}`: a failed projector runs again from its failing event
 * once the cause is fixed.
 */
final class RetryCommand extends SetsProjectorStatus
{
    /** @var string */
    protected $signature = 'eventsrv:retry
        {projector : Checkpoint name, class name or short class name of the projector}';

    /** @var string */
    protected $description = 'Run a failed eventsrv projector again from the event it failed on';

    protected function statusToSet(): string
    {
        return ProjectorStatus::ACTIVE;
    }
}
