<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Something was asked of state that it does not allow: an entity saved or deleted outside a
 * Projector handler (state comes from events, so only the Worker's projectors change entities),
 * or the meta of an event that has not been stored yet.
 */
class StateException extends EventSrvException
{
}
