<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use EventSrv\Laravel\HandlerRegistry;
use EventSrv\WorkerOptions;
use Illuminate\Console\Command;

/**
 * The operator's status changes (`eventsrv:retry`, `eventsrv:pause`, `eventsrv:resume`): one
 * commit of the projector's status entity (Worker::setStatus()), which running workers pick up
 * at their next batch. Exit 2 for a projector the app does not have, 1 when the commit fails.
 */
abstract class SetsProjectorStatus extends Command
{
    /** The status the command sets: ProjectorStatus::ACTIVE or ProjectorStatus::PAUSED. */
    abstract protected function statusToSet(): string;

    public function handle(HandlerRegistry $registry): int
    {
        $projector = (string) $this->argument('projector');
        try {
            $said = $registry->worker(new WorkerOptions())->setStatus($projector, $this->statusToSet());
        } catch (\InvalidArgumentException $invalid) {
            $this->error($invalid->getMessage());
            return 2;
        } catch (\Throwable $failure) {
            $this->error($failure::class . ': ' . $failure->getMessage());
            return 1;
        }
        $this->info($said);
        return 0;
    }
}
