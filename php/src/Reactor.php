<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Side effects of events (mail, HTTP calls, new commands). Runs in the Worker after the
 * projectors have committed the batch, so entities already reflect the event. At-least-once: a
 * crash between the side effect and the checkpoint commit repeats the event, so make handlers
 * idempotent where it matters. A new reactor starts at the current head: it does not fire for
 * history. Reactors never run during a replay.
 *
 * Events a reactor records (AggregateRoot::persist()) are caused by the handled event: see
 * Context.
 */
abstract class Reactor extends EventHandler
{
}
