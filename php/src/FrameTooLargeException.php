<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * A request to the daemon would exceed the frame limit (8 MiB); nothing was sent. The worker
 * reacts by halving its batch.
 */
class FrameTooLargeException extends EventSrvException
{
}
