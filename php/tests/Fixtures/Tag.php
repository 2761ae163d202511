<?php

declare(strict_types=1);

namespace EventSrv\Tests\Fixtures;

use EventSrv\Entity;

final class Tag extends Entity
{
    public string $label = '';
}
