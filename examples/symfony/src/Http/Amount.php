<?php

declare(strict_types=1);

namespace App\Http;

use Bank\InvalidAmount;
use Symfony\Component\HttpFoundation\Request;

/** The `amount` field of a form or JSON body, as a whole number (the domain checks the sign). */
final class Amount
{
    public static function from(Request $request): int
    {
        $amount = str_contains((string) $request->headers->get('Content-Type'), 'json')
            ? (json_decode($request->getContent(), true)['amount'] ?? null)
            : $request->request->get('amount');
        if (\is_int($amount)) {
            return $amount;
        }
        if (!\is_string($amount) || preg_match('/^-?\d{1,15}$/', trim($amount)) !== 1) {
            throw new InvalidAmount('The amount must be a whole number.');
        }
        return (int) trim($amount);
    }
}
