<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Tests\Fixtures\BankAccount;
use EventSrv\Tests\Fixtures\RecordingReactor;
use EventSrv\Tests\Fixtures\Tag;
use EventSrv\Tests\Fixtures\TagProjector;
use EventSrv\Tests\Fixtures\Wallet;
use EventSrv\Tests\Fixtures\WalletProjector;

final class ReplayTest extends TestCase
{
    public function testReplayResetsEntitiesAndRebuildsThemWithoutReactors(): void
    {
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        $ada = BankAccount::open('Ada')->add(10)->persist()->uuid();
        BankAccount::open('Bob')->persist();
        $reactor = new RecordingReactor();
        $this->worker([new WalletProjector(), new TagProjector()], [$reactor])->runOnce();
        self::assertSame([1, 2, 3], $reactor->positions);
        $this->corruptWallets(); // e.g. a projector bug that has since been fixed

        $reactor = new RecordingReactor();
        $projector = new WalletProjector();
        $processed = $this->worker([$projector, new TagProjector()], [$reactor])->replay();

        self::assertSame(3, $processed);
        self::assertSame([], $reactor->positions, 'reactors never run during a replay');
        self::assertSame(3, $this->backend->checkpoint(RecordingReactor::class), 'reactors keep their checkpoints');
        self::assertSame(['opened Ada', 'added 10', 'opened Bob'], $projector->log);
        self::assertSame(2, Wallet::count(), 'the stray wallet is gone');
        self::assertSame(10, Wallet::find($ada)?->balance);
        $reset = $this->backend->commits()[3]; // after: projection, reactor checkpoint, corruption
        self::assertSame([['reset', Wallet::class], ['reset', Tag::class]], $reset['changes']);
        self::assertSame([[WalletProjector::class, 3, 0], ['tags', 3, 0]], $reset['checkpoints']);
        self::assertSame(0, $reset['projected']);
        self::assertSame(3, $this->backend->projectedPosition());
    }

    public function testReplayOfOneProjectorLeavesTheOthersAlone(): void
    {
        BankAccount::open('Ada')->persist();
        BankAccount::open('Bob')->persist();
        $this->worker([new WalletProjector(), new TagProjector()])->runOnce();
        $tags = new TagProjector();
        $wallets = new WalletProjector();

        $this->worker([$wallets, $tags])->replay(['TagProjector']);

        self::assertSame(2, $tags->handled);
        self::assertSame([], $wallets->log);
        self::assertSame(2, $this->backend->checkpoint(WalletProjector::class));
        self::assertSame(2, Tag::count());
        self::assertSame(2, Wallet::count(), 'wallets were not reset');
        $reset = $this->backend->commits()[1];
        self::assertSame([['reset', Tag::class]], $reset['changes']);
        self::assertSame([['tags', 2, 0]], $reset['checkpoints']);
    }

    public function testReplaySelectsByCheckpointNameOrClassName(): void
    {
        BankAccount::open('Ada')->persist();
        $this->worker([new WalletProjector(), new TagProjector()])->runOnce();

        self::assertSame(1, $this->worker([new WalletProjector(), new TagProjector()])->replay(['tags']));
        self::assertSame(1, $this->worker([new WalletProjector(), new TagProjector()])->replay([WalletProjector::class]));
    }

    public function testReplayOfAnUnknownProjectorIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('no projector named Nope; the projectors are: ' . WalletProjector::class . ', tags');

        $this->worker([new WalletProjector(), new TagProjector()])->replay(['Nope']);
    }

    public function testTheWorkerContinuesNormallyAfterAReplay(): void
    {
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        BankAccount::open('Ada')->persist();
        $reactor = new RecordingReactor();
        $worker = $this->worker([new WalletProjector()], [$reactor]);
        $worker->runOnce();
        $worker->replay();

        BankAccount::open('Bob')->persist();
        $worker->runOnce();

        self::assertSame([1, 2], $reactor->positions);
        self::assertSame(2, Wallet::count());
    }

    private function corruptWallets(): void
    {
        $stray = new Wallet();
        $stray->uuid = 'stray';
        $stray->name = 'stray';
        $this->backend->commit([['upsert', Wallet::class, 'stray', $stray, 1]], [], null);
    }
}
