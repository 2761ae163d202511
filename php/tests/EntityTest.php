<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\StateException;
use EventSrv\Tests\Fixtures\Wallet;

final class EntityTest extends TestCase
{
    public function testSavingOutsideAProjectorIsRefused(): void
    {
        $wallet = new Wallet();
        $wallet->uuid = 'w1';
        $wallet->name = 'Ada';

        $this->expectException(StateException::class);
        $this->expectExceptionMessage('state comes from events: change ' . Wallet::class
            . ' inside a Projector handler, not in a request');

        $wallet->save();
    }

    public function testDeletingOutsideAProjectorIsRefused(): void
    {
        $this->store(['w1', 'Ada', 1]);
        $wallet = Wallet::find('w1');
        self::assertNotNull($wallet);

        $this->expectException(StateException::class);

        $wallet->delete();
    }

    public function testReadsGoToTheStore(): void
    {
        $this->store(['w1', 'Ada', 10], ['w2', 'Bob', 20]);

        self::assertSame(20, Wallet::find('w2')?->balance);
        self::assertNull(Wallet::find('nope'));
        self::assertSame(['w1', 'w2'], array_map(static fn (Wallet $w) => $w->uuid, Wallet::all()));
        self::assertSame(2, Wallet::count());
    }

    public function testFoundEntitiesAreCopies(): void
    {
        $this->store(['w1', 'Ada', 10]);

        $wallet = Wallet::find('w1');
        self::assertNotNull($wallet);
        $wallet->balance = 99;

        self::assertSame(10, Wallet::find('w1')?->balance);
    }

    public function testJsonHasThePublicProperties(): void
    {
        $this->store(['w1', 'Ada', 10]);

        self::assertSame(
            '{"uuid":"w1","name":"Ada","balance":10,"seenWhenCreated":0}',
            json_encode(Wallet::find('w1')),
        );
    }

    /** @param array{string, string, int} ...$rows uuid, name, balance */
    private function store(array ...$rows): void
    {
        $changes = [];
        foreach ($rows as $position => [$uuid, $name, $balance]) {
            $wallet = new Wallet();
            $wallet->uuid = $uuid;
            $wallet->name = $name;
            $wallet->balance = $balance;
            $changes[] = ['upsert', Wallet::class, $uuid, $wallet, $position + 1];
        }
        $this->backend->commit($changes, [], null);
    }
}
