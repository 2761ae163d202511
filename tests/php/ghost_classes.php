<?php
// Classes only the writing process of bad_values.php knows; the reading process never loads this
// file, so reading their events back must fail clearly.

declare(strict_types=1);

namespace Ghost;

final class Thing
{
    public function __construct(public string $name)
    {
    }
}

final class Appeared
{
    public function __construct(public string $name)
    {
    }
}
