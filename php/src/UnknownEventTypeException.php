<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * A stored event type has no registered alias and is no loadable class (see
 * EventTypes::register()).
 */
class UnknownEventTypeException extends EventSrvException
{
}
