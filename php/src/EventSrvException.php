<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Base class of every exception eventsrv throws, from the extension or from the userland.
 */
class EventSrvException extends \RuntimeException
{
}
