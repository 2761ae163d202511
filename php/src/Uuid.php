<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * UUID text ids. v7 (RFC 9562: 48-bit Unix milliseconds, then randomness) is what aggregates get:
 * ids created later sort later, also within one millisecond of one process (a 12-bit counter
 * fills rand_a). With the extension loaded, v7 ids come from it (Native::uuidV7(): the same
 * layout and order, shared with the event ids it makes, from a pool of kernel random bytes
 * instead of two getrandom calls per id).
 */
final class Uuid
{
    private const SEQUENCE_MAX = 0xFFF;

    private static int $lastMilliseconds = 0;

    private static int $sequence = 0;

    /** Whether the extension makes v7 ids (found on first use). */
    private static ?bool $native = null;

    public static function v7(): string
    {
        if (self::$native ??= \extension_loaded('eventsrv') && method_exists(Native::class, 'uuidV7')) {
            return Native::uuidV7();
        }
        $milliseconds = (int) floor(microtime(true) * 1000);
        if ($milliseconds <= self::$lastMilliseconds) {
            $milliseconds = self::$lastMilliseconds;
            self::$sequence++;
            if (self::$sequence > self::SEQUENCE_MAX) {
                $milliseconds++; // borrow from the future rather than lose the order
                self::$sequence = random_int(0, self::SEQUENCE_MAX >> 1);
            }
        } else {
            // start low in the range so that many ids fit in the same millisecond
            self::$sequence = random_int(0, self::SEQUENCE_MAX >> 1);
        }
        self::$lastMilliseconds = $milliseconds;

        $random = random_bytes(8);
        $random[0] = \chr((\ord($random[0]) & 0x3F) | 0x80); // variant 10
        $bytes = substr(pack('J', $milliseconds), 2) . pack('n', 0x7000 | self::$sequence) . $random;
        return self::format($bytes);
    }

    public static function v4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = \chr((\ord($bytes[6]) & 0x0F) | 0x40);
        $bytes[8] = \chr((\ord($bytes[8]) & 0x3F) | 0x80);
        return self::format($bytes);
    }

    public static function isValid(string $uuid): bool
    {
        return preg_match('/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i', $uuid) === 1;
    }

    /** The creation time of a v7 uuid (millisecond precision, UTC). */
    public static function v7Time(string $uuid): \DateTimeImmutable
    {
        if (!self::isValid($uuid) || $uuid[14] !== '7') {
            throw new \InvalidArgumentException("not a version 7 uuid: $uuid");
        }
        $milliseconds = hexdec(str_replace('-', '', substr($uuid, 0, 13)));
        $time = \DateTimeImmutable::createFromFormat(
            'U.v',
            sprintf('%d.%03d', intdiv((int) $milliseconds, 1000), (int) $milliseconds % 1000),
        );
        \assert($time !== false);
        return $time;
    }

    private static function format(string $bytes): string
    {
        $hex = bin2hex($bytes);
        return substr($hex, 0, 8) . '-' . substr($hex, 8, 4) . '-' . substr($hex, 12, 4) . '-'
            . substr($hex, 16, 4) . '-' . substr($hex, 20, 12);
    }
}
