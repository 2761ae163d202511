<?php

declare(strict_types=1);

namespace App\Http;

use Bank\InvalidAmount;
use Illuminate\Http\Request;

/** The `amount` field of a form or JSON body, as a whole number (the domain checks the sign). */
final class Amount
{
    public static function from(Request $request): int
    {
        $amount = $request->input('amount');
        if (\is_int($amount)) {
            return $amount;
        }
        if (!\is_string($amount) || preg_match('/^-?\d{1,15}$/', trim($amount)) !== 1) {
            throw new InvalidAmount('The amount must be a whole number.');
        }
        return (int) trim($amount);
    }
}
