<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Uuid;
use PHPUnit\Framework\TestCase;

final class UuidTest extends TestCase
{
    public function testVersion7Format(): void
    {
        $uuid = Uuid::v7();

        self::assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $uuid);
    }

    public function testVersion4Format(): void
    {
        self::assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', Uuid::v4());
    }

    public function testVersion7IdsCreatedLaterSortLater(): void
    {
        $ids = [];
        for ($i = 0; $i < 5000; $i++) {
            $ids[] = Uuid::v7();
        }
        $sorted = $ids;
        sort($sorted, SORT_STRING);

        self::assertSame($ids, $sorted);
        self::assertCount(5000, array_unique($ids));
    }

    public function testVersion7CarriesItsTime(): void
    {
        $before = (int) floor(microtime(true) * 1000);
        $time = Uuid::v7Time(Uuid::v7());

        self::assertGreaterThanOrEqual($before, (int) $time->format('Uv'));
        self::assertLessThan($before + 60_000, (int) $time->format('Uv'));
    }

    public function testValidation(): void
    {
        self::assertTrue(Uuid::isValid('0190C6E0-0000-7000-8000-000000000000'));
        self::assertFalse(Uuid::isValid('0190c6e0-0000-7000-8000-00000000000'));
        self::assertFalse(Uuid::isValid('not a uuid'));
    }
}
