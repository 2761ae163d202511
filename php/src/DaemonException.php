<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The daemon answered a request with an error; message and code come from the daemon.
 */
class DaemonException extends EventSrvException
{
}
