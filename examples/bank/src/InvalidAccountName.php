<?php

/**
 * InvalidAccountName: the domain refused an empty or overly long account name.
 */

declare(strict_types=1);

namespace Bank;

final class InvalidAccountName extends \DomainException
{
    public const LENGTH_MAX = 100;

    public static function empty(): self
    {
        return new self('An account needs a name.');
    }

    public static function tooLong(): self
    {
        return new self('An account name may have at most ' . self::LENGTH_MAX . ' characters.');
    }
}
