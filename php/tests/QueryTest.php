<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Tests\Fixtures\Wallet;

final class QueryTest extends TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $changes = [];
        $rows = [['a', 'Ada', 50], ['b', 'bob', 10], ['c', 'Cy', 30], ['d', 'Dee', 10], ['e', 'Eve', 0]];
        foreach ($rows as [$uuid, $name, $balance]) {
            $wallet = new Wallet();
            $wallet->uuid = $uuid;
            $wallet->name = $name;
            $wallet->balance = $balance;
            $changes[] = ['upsert', Wallet::class, $uuid, $wallet, 1];
        }
        $this->backend->commit($changes, [], null);
    }

    public function testWithoutConditionsItIsAll(): void
    {
        self::assertSame(['a', 'b', 'c', 'd', 'e'], $this->uuids(Wallet::query()->get()));
        self::assertSame(5, Wallet::query()->count());
    }

    public function testWhereWithTwoArgumentsMeansEquals(): void
    {
        self::assertSame(['b', 'd'], $this->uuids(Wallet::query()->where('balance', 10)->get()));
    }

    /** @dataProvider operators */
    public function testOperators(string $operator, mixed $value, array $expected): void
    {
        self::assertSame($expected, $this->uuids(Wallet::query()->where('balance', $operator, $value)->get()));
    }

    /** @return iterable<array{string, mixed, list<string>}> */
    public static function operators(): iterable
    {
        yield '=' => ['=', 10, ['b', 'd']];
        yield '= loose' => ['=', '10', ['b', 'd']];
        yield '===' => ['===', '10', []];
        yield '!=' => ['!=', 10, ['a', 'c', 'e']];
        yield '<>' => ['<>', 10, ['a', 'c', 'e']];
        yield '<' => ['<', 30, ['b', 'd', 'e']];
        yield '<=' => ['<=', 30, ['b', 'c', 'd', 'e']];
        yield '>' => ['>', 10, ['a', 'c']];
        yield '>=' => ['>=', 10, ['a', 'b', 'c', 'd']];
    }

    public function testLikeIsCaseInsensitiveWithPercentAndUnderscore(): void
    {
        self::assertSame(['b'], $this->uuids(Wallet::query()->where('name', 'like', 'B%')->get()));
        self::assertSame(['c'], $this->uuids(Wallet::query()->where('name', 'LIKE', 'c_')->get()));
        self::assertSame(['a', 'c', 'd', 'e'], $this->uuids(Wallet::query()->where('name', 'not like', 'b%')->get()));
    }

    public function testConditionsAreAnded(): void
    {
        $query = Wallet::query()->where('balance', '>', 0)->where('balance', '<', 50);

        self::assertSame(['b', 'c', 'd'], $this->uuids($query->get()));
    }

    public function testWhereInAndClosures(): void
    {
        self::assertSame(['a', 'e'], $this->uuids(Wallet::query()->whereIn('name', ['Ada', 'Eve', 'Zed'])->get()));
        self::assertSame(['b', 'c', 'd'], $this->uuids(Wallet::query()->whereNotIn('uuid', ['a', 'e'])->get()));
        self::assertSame(['c'], $this->uuids(Wallet::query()->where(static fn (Wallet $w) => strlen($w->name) === 2)->get()));
    }

    public function testOrderByIsStableAndTakesTieBreakers(): void
    {
        self::assertSame(['a', 'c', 'b', 'd', 'e'], $this->uuids(Wallet::query()->orderBy('balance', 'desc')->get()));
        self::assertSame(['e', 'b', 'd', 'c', 'a'], $this->uuids(Wallet::query()->orderBy('balance')->get()));
        self::assertSame(
            ['e', 'd', 'b', 'c', 'a'], // 'Dee' < 'bob': byte order
            $this->uuids(Wallet::query()->orderBy('balance', 'ASC')->orderBy('name')->get()),
        );
    }

    public function testLimitOffsetFirst(): void
    {
        $query = Wallet::query()->orderBy('balance', 'desc');

        self::assertSame(['c', 'b'], $this->uuids((clone $query)->offset(1)->limit(2)->get()));
        self::assertSame(['d', 'e'], $this->uuids((clone $query)->offset(3)->get()));
        self::assertSame('a', $query->first()?->uuid);
        self::assertNull(Wallet::query()->where('balance', '>', 1000)->first());
        self::assertSame(5, $query->count(), 'first() does not change the query');
    }

    public function testAggregates(): void
    {
        self::assertSame(100, Wallet::query()->sum('balance'));
        self::assertSame(20, Wallet::query()->where('balance', 10)->sum('balance'));
        self::assertSame(0, Wallet::query()->where('balance', '>', 1000)->sum('balance'));
        self::assertSame(['Ada', 'Cy'], Wallet::query()->where('balance', '>=', 30)->pluck('name'));
        self::assertTrue(Wallet::query()->where('name', 'Eve')->exists());
    }

    public function testAnUnknownOperatorIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('unknown operator');

        Wallet::query()->where('balance', '=>', 10);
    }

    public function testAnUnknownPropertyIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('has no property $balanse');

        Wallet::query()->where('balanse', 10)->get();
    }

    /**
     * @param list<Wallet> $wallets
     * @return list<string>
     */
    private function uuids(array $wallets): array
    {
        return array_map(static fn (Wallet $wallet): string => $wallet->uuid, $wallets);
    }
}
