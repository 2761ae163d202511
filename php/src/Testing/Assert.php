<?php

declare(strict_types=1);

namespace EventSrv\Testing;

/**
 * The assertions of the test helpers: PHPUnit's when PHPUnit runs (so failures count and show a
 * diff), a plain \AssertionError otherwise.
 *
 * @internal
 */
final class Assert
{
    public static function same(mixed $expected, mixed $actual, string $message): void
    {
        if (class_exists(\PHPUnit\Framework\Assert::class)) {
            \PHPUnit\Framework\Assert::assertEquals($expected, $actual, $message);
            return;
        }
        if ($expected != $actual) {
            throw new \AssertionError(sprintf(
                "%s\nexpected: %s\nactual:   %s",
                $message,
                var_export($expected, true),
                var_export($actual, true),
            ));
        }
    }
}
