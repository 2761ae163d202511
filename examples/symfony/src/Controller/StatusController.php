<?php

declare(strict_types=1);

namespace App\Controller;

use App\View\Page;
use EventSrv\Status\StatusReport;
use EventSrv\Symfony\Handlers;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Response;

/** The read-only status page for operators: positions, lag, each projector's and reactor's checkpoint and status. */
final class StatusController
{
    public function __construct(private readonly Handlers $handlers, private readonly Page $page)
    {
    }

    public function page(): Response
    {
        return $this->page->render('status', 'Event server status', ['status' => $this->report()->toArray()]);
    }

    public function json(): JsonResponse
    {
        return new JsonResponse($this->report()->toArray());
    }

    private function report(): StatusReport
    {
        return StatusReport::collect($this->handlers->projectors(), $this->handlers->reactors());
    }
}
