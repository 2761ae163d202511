<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The state region was written with another layout version than this extension understands. Thrown
 * by the extension.
 */
class RegionLayoutMismatchException extends RegionException
{
}
