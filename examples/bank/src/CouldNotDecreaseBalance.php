<?php

/**
 * CouldNotDecreaseBalance: the domain refused a withdrawal (it would take the balance below zero).
 */

declare(strict_types=1);

namespace Bank;

final class CouldNotDecreaseBalance extends \DomainException
{
    public static function insufficientFunds(int $balance, int $amount): self
    {
        return new self("Cannot take $amount out of an account holding $balance: the balance may not go below zero.");
    }
}
