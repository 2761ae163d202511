<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * A value cannot be stored or read back (resource, Closure, recursion, anonymous class, unknown
 * class…); the message names the class and the property path. Nothing was sent.
 */
class SerializationException extends EventSrvException
{
}
