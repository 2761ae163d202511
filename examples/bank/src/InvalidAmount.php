<?php

/**
 * InvalidAmount: the domain refused an amount that is not a positive whole number.
 */

declare(strict_types=1);

namespace Bank;

final class InvalidAmount extends \DomainException
{
    public static function notPositive(int $amount): self
    {
        return new self("The amount must be positive, got $amount.");
    }
}
