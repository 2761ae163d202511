<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The daemon cannot be reached (connect failed or the connection was lost); the message names the
 * socket path and the ini setting. Thrown by the extension.
 */
class DaemonUnavailableException extends EventSrvException
{
}
