<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The state region file is missing, unreadable, not a region, or corrupt; the message names the
 * path. Thrown by the extension.
 */
class RegionException extends EventSrvException
{
}
