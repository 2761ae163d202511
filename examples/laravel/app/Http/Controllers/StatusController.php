<?php

declare(strict_types=1);

namespace App\Http\Controllers;

use EventSrv\Laravel\HandlerRegistry;
use EventSrv\Status\StatusReport;
use Illuminate\Http\JsonResponse;

/** The read-only status page for operators: positions, lag, each projector's and reactor's checkpoint and status. */
final class StatusController
{
    public function page(HandlerRegistry $handlers)
    {
        return view('status', ['status' => $this->report($handlers)->toArray()]);
    }

    public function json(HandlerRegistry $handlers): JsonResponse
    {
        return response()->json($this->report($handlers)->toArray());
    }

    private function report(HandlerRegistry $handlers): StatusReport
    {
        return StatusReport::collect($handlers->projectors(), $handlers->reactors());
    }
}
