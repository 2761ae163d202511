<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Context;
use EventSrv\Entity;
use EventSrv\Event;
use EventSrv\EventHandlerFailedException;
use EventSrv\EventSrvException;
use EventSrv\Projector;
use EventSrv\ProjectorRebuild;
use EventSrv\ProjectorRebuildProgress;
use EventSrv\ProjectorStatus;
use EventSrv\Internal\EventPositions;
use EventSrv\Internal\Runtime;
use EventSrv\StateException;
use EventSrv\Tests\Fixtures\AccountOpened;
use EventSrv\Tests\Fixtures\BankAccount;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\RecordingReactor;
use EventSrv\Tests\Fixtures\SwapRacingBackend;
use EventSrv\Tests\Fixtures\Tag;
use EventSrv\Tests\Fixtures\TagProjector;
use EventSrv\Tests\Fixtures\Wallet;
use EventSrv\Tests\Fixtures\WalletProjector;

final class WorkerTest extends TestCase
{
    public function testProjectsEventsIntoEntitiesWithOneCommitPerBatch(): void
    {
        $ada = BankAccount::open('Ada')->add(10)->add(5)->persist()->uuid();
        $bob = BankAccount::open('Bob')->persist()->uuid();

        $processed = $this->worker([new WalletProjector()])->runOnce();

        self::assertSame(4, $processed);
        self::assertSame(15, Wallet::find($ada)?->balance);
        self::assertSame('Bob', Wallet::find($bob)?->name);
        self::assertSame([$ada, $bob], array_map(static fn (Wallet $w) => $w->uuid, Wallet::all()));
        $commits = $this->backend->commits();
        self::assertCount(1, $commits);
        self::assertSame([[WalletProjector::class, 0, 4]], $commits[0]['checkpoints']);
        self::assertSame(4, $commits[0]['projected']);
        self::assertSame(
            [['upsert', $ada, 3], ['upsert', $bob, 4]],
            array_map(static fn (array $c) => [$c[0], $c[2], $c[4]], $commits[0]['changes']),
            'one upsert per entity, carrying the position of its last change',
        );
        self::assertSame(4, $this->backend->projectedPosition());
        self::assertSame(1, $this->backend->positions()['workers']);
    }

    public function testHandlersSeeTheUncommittedChangesOfTheirBatch(): void
    {
        BankAccount::open('Ada')->persist();
        BankAccount::open('Bob')->persist();
        BankAccount::open('Cy')->persist();

        $this->worker([new WalletProjector()])->runOnce();

        // each onAccountOpened counted the wallets saved earlier in the same batch
        self::assertSame([0, 1, 2], array_map(static fn (Wallet $w) => $w->seenWhenCreated, Wallet::all()));
        self::assertCount(1, $this->backend->commits());
    }

    public function testAFoundCopyChangedWithoutSaveChangesNothingInTheBatch(): void
    {
        $uuid = BankAccount::open('Ada')->add(1)->add(2)->persist()->uuid();
        $projector = new class extends Projector {
            public function onAccountOpened(AccountOpened $event): void
            {
                $tag = new Tag();
                $tag->uuid = $event->meta()->aggregateUuid();
                $tag->label = 'opened';
                $tag->save();
            }

            public function onMoneyAdded(MoneyAdded $event): void
            {
                $tag = Tag::find($event->meta()->aggregateUuid()) ?? throw new \LogicException('tag missing');
                if ($event->amount === 1) {
                    $tag->label = 'saved';
                    $tag->save();
                    return;
                }
                $tag->label = 'changed, not saved';
            }
        };

        $this->worker([$projector])->runOnce();

        self::assertSame('saved', Tag::find($uuid)?->label);
        self::assertCount(1, $this->backend->commits(), 'one batch');
    }

    public function testOneObjectSavedUnderTwoUuidsKeepsBoth(): void
    {
        BankAccount::open('Ada')->persist();
        $projector = new class extends Projector {
            public function onAccountOpened(AccountOpened $event): void
            {
                $tag = new Tag();
                foreach (['first', 'second'] as $label) {
                    $tag->uuid = $label;
                    $tag->label = $label;
                    $tag->save();
                }
            }
        };

        $this->worker([$projector])->runOnce();

        self::assertSame('first', Tag::find('first')?->label);
        self::assertSame('second', Tag::find('second')?->label);
    }

    public function testEachBatchIsOneCommitAndTheNextBatchStartsAtTheCheckpoint(): void
    {
        $uuid = BankAccount::open('Ada')->add(1)->add(2)->add(3)->add(4)->persist()->uuid();

        $processed = $this->worker([new WalletProjector()], [], ['batch_size' => 2])->runOnce();

        self::assertSame(5, $processed);
        self::assertSame(10, Wallet::find($uuid)?->balance);
        self::assertSame(
            [[[WalletProjector::class, 0, 2]], [[WalletProjector::class, 2, 4]], [[WalletProjector::class, 4, 5]]],
            array_column($this->backend->commits(), 'checkpoints'),
        );
        self::assertSame([2, 4, 5], array_column($this->backend->commits(), 'projected'));
    }

    public function testProjectorsKeepTheirOwnCheckpointsAndProjectedIsTheLowest(): void
    {
        BankAccount::open('Ada')->persist();
        BankAccount::open('Bob')->persist();
        $this->backend->setCheckpoint('tags', 1); // tags already handled position 1
        $tags = new TagProjector();

        $this->worker([new WalletProjector(), $tags])->runOnce();

        self::assertSame(1, $tags->handled);
        self::assertSame(['bob'], array_map(static fn (Tag $t) => $t->label, Tag::all()));
        self::assertSame(2, Wallet::count());
        $commit = $this->backend->commits()[0];
        self::assertSame([[WalletProjector::class, 0, 2], ['tags', 1, 2]], $commit['checkpoints']);
        self::assertSame(2, $commit['projected']);
    }

    public function testDeleteAndRecreateInOneBatch(): void
    {
        $ada = BankAccount::open('Ada')->persist()->uuid();
        $bob = BankAccount::open('Bob')->persist()->uuid();
        RecreatingProjector::$observed = [];
        $worker = $this->worker([new RecreatingProjector()]);
        $worker->runOnce();
        self::assertSame([$ada, $bob], array_map(static fn (Wallet $w) => $w->uuid, Wallet::all()));

        BankAccount::retrieve($ada)->add(7)->persist(); // the projector deletes and re-creates Ada's wallet
        $worker->runOnce();

        self::assertSame([$bob, $ada], array_map(static fn (Wallet $w) => $w->uuid, Wallet::all()));
        self::assertSame(7, Wallet::find($ada)?->balance);
        self::assertSame(
            [['delete', $ada], ['upsert', $ada]],
            array_map(static fn (array $c) => [$c[0], $c[2]], $this->backend->commits()[1]['changes']),
        );
        self::assertSame(
            [[2, $bob], [1, $ada]],
            RecreatingProjector::$observed,
            'inside the batch: count and last uuid before; place and last uuid after re-creating',
        );
    }

    public function testATooLargeCommitHalvesTheBatch(): void
    {
        for ($i = 0; $i < 8; $i++) {
            BankAccount::open("A$i")->persist();
        }
        $this->backend->changesPerCommitMax = 3;

        $processed = $this->worker([new WalletProjector()])->runOnce();

        self::assertSame(8, $processed);
        self::assertSame(8, Wallet::count());
        self::assertSame(
            [[[WalletProjector::class, 0, 2]], [[WalletProjector::class, 2, 4]], [[WalletProjector::class, 4, 6]], [[WalletProjector::class, 6, 8]]],
            array_column($this->backend->commits(), 'checkpoints'),
        );
        self::assertContains('commit too large for one frame: batch size halved to 4', $this->logLines);
        self::assertContains('commit too large for one frame: batch size halved to 2', $this->logLines);
    }

    public function testACheckpointConflictDropsTheBatchAndContinuesFromTheStoredCheckpoint(): void
    {
        $uuid = BankAccount::open('Ada')->add(1)->add(2)->persist()->uuid();
        // another worker projects events 1 and 2 while this one is busy with the batch
        $projector = new WalletProjector();
        $interfering = new InterferingProjector($this->backend, $projector->name(), 2, function () use ($uuid): void {
            $wallet = new Wallet();
            $wallet->uuid = $uuid;
            $wallet->name = 'Ada';
            $wallet->balance = 1;
            $this->backend->commit([['upsert', Wallet::class, $uuid, $wallet, 2]], [], null);
        });

        $processed = $this->worker([$projector, $interfering])->runOnce();

        self::assertSame(3, $processed);
        self::assertSame(3, Wallet::find($uuid)?->balance, 'event 3 applied once on top of the other worker\'s state');
        self::assertSame(['opened Ada', 'added 1', 'added 2', 'added 2'], $projector->log);
        self::assertStringContainsString("checkpoint {$projector->name()} was moved by another worker", implode("\n", $this->logLines));
        self::assertSame(3, $this->backend->checkpoint($projector->name()));
    }

    public function testAFailingProjectorIsMarkedFailedWhileTheOthersAdvanceAndRetryResumesIt(): void
    {
        $uuid = BankAccount::open('Ada')->add(1)->add(13)->add(2)->persist()->uuid();
        $wallets = new WalletProjector();
        $wallets->failOnAmount = 13;
        $tags = new TagProjector();

        self::assertSame(4, $this->worker([$wallets, $tags])->runOnce());

        self::assertSame(2, $this->backend->checkpoint(WalletProjector::class), 'stays before the failing event');
        self::assertSame(4, $this->backend->checkpoint('tags'), 'the other projector went through the batch');
        self::assertSame(1, Wallet::find($uuid)?->balance);
        $commits = $this->backend->commits();
        self::assertCount(1, $commits, 'failure, work before it and the other projector: one commit');
        self::assertSame([[WalletProjector::class, 0, 2], ['tags', 0, 4]], $commits[0]['checkpoints']);
        self::assertSame(2, $commits[0]['projected']);
        $status = ProjectorStatus::find(WalletProjector::class);
        self::assertSame(ProjectorStatus::FAILED, $status?->status);
        self::assertSame(3, $status->position);
        self::assertSame(\RuntimeException::class, $status->exception);
        self::assertSame('refusing amount 13', $status->error);
        self::assertSame(WalletProjector::class . '::onMoneyAdded', $status->handler);
        self::assertSame(MoneyAdded::class, $status->event);
        self::assertStringContainsString('projector marked failed', implode("\n", $this->logLines));

        // A failed projector is skipped; the worker keeps running the others.
        BankAccount::open('Bob')->persist();
        $this->worker([$wallets, $tags])->runOnce();
        self::assertSame(2, $this->backend->checkpoint(WalletProjector::class));
        self::assertSame(5, $this->backend->checkpoint('tags'));
        self::assertSame(1, Wallet::find($uuid)?->balance);

        $wallets->failOnAmount = null; // fixed
        $said = $this->worker([$wallets, $tags])->setStatus('WalletProjector', ProjectorStatus::ACTIVE);
        self::assertStringContainsString('failed -> active', $said);
        self::assertStringContainsString('failed on event #3', $said);
        $this->worker([$wallets, $tags])->runOnce();
        self::assertSame(16, Wallet::find($uuid)?->balance, 'resumed at the failing event');
        self::assertSame(5, $this->backend->checkpoint(WalletProjector::class));
        self::assertSame(ProjectorStatus::ACTIVE, ProjectorStatus::find(WalletProjector::class)?->status);
    }

    public function testTheChangesAFailingHandlerMadeBeforeThrowingAreNotCommitted(): void
    {
        $uuid = BankAccount::open('Ada')->add(13)->persist()->uuid();
        $halfDone = new class extends Projector {
            public function name(): string
            {
                return 'half-done';
            }

            public function onAccountOpened(AccountOpened $event): void
            {
                $tag = new Tag();
                $tag->uuid = $event->meta()->aggregateUuid();
                $tag->label = 'opened';
                $tag->save();
            }

            public function onMoneyAdded(MoneyAdded $event): void
            {
                $tag = Tag::find($event->meta()->aggregateUuid()) ?? throw new \LogicException('tag missing');
                $tag->label = 'half-done';
                $tag->save();
                throw new \RuntimeException('after saving');
            }
        };

        $this->worker([$halfDone, new WalletProjector()])->runOnce();

        self::assertSame('opened', Tag::find($uuid)?->label, 'the failing event left nothing behind');
        self::assertSame(1, $this->backend->checkpoint('half-done'));
        self::assertSame(13, Wallet::find($uuid)?->balance, 'the other projector handled the event');
        self::assertSame(ProjectorStatus::FAILED, ProjectorStatus::find('half-done')?->status);
    }

    public function testAPausedProjectorIsSkippedUntilResumed(): void
    {
        $uuid = BankAccount::open('Ada')->add(5)->persist()->uuid();
        $worker = $this->worker([new WalletProjector(), new TagProjector()]);
        $worker->setStatus('tags', ProjectorStatus::PAUSED);

        $worker->runOnce();
        self::assertSame(5, Wallet::find($uuid)?->balance);
        self::assertSame(0, $this->backend->checkpoint('tags'));
        self::assertSame(ProjectorStatus::PAUSED, $worker->statuses()['tags']->status);

        $worker->setStatus('tags', ProjectorStatus::ACTIVE);
        $worker->runOnce();
        self::assertSame(2, $this->backend->checkpoint('tags'));
        self::assertSame('ada', Tag::find($uuid)?->label);
    }

    public function testRunKeepsRunningWhenAProjectorFails(): void
    {
        BankAccount::open('Ada')->add(13)->add(1)->persist();
        $projector = new WalletProjector();
        $projector->failOnAmount = 13;

        $status = $this->worker([$projector, new TagProjector()], [], ['max_events' => 3])->run();

        self::assertSame(0, $status);
        $log = implode("\n", $this->logLines);
        self::assertStringContainsString(
            'projector ' . WalletProjector::class . ' failed on event #2 ' . MoneyAdded::class
            . ' in onMoneyAdded(): RuntimeException: refusing amount 13',
            $log,
        );
        self::assertStringContainsString('the event was not skipped', $log);
        self::assertSame(3, $this->backend->checkpoint('tags'));
    }

    public function testRebuildBuildsBesideTheLiveProjectionAndSwapsAtTheHead(): void
    {
        $ada = BankAccount::open('Ada')->add(10)->add(5)->persist()->uuid();
        $live = new WalletProjector();
        $this->worker([$live])->runOnce();
        self::assertSame(15, Wallet::find($ada)?->balance);

        $seen = [];
        $progress = function (ProjectorRebuildProgress $progress) use ($ada, &$seen): void {
            // Readers keep seeing the whole live projection while the rebuild runs.
            self::assertSame($seen === [] ? 15 : 115, Wallet::find($ada)?->balance);
            $seen[] = $progress->position;
            if (\count($seen) === 1) {
                // Meanwhile an event is appended and the live worker projects it.
                BankAccount::retrieve($ada)->add(100)->persist();
                $this->worker([new WalletProjector()])->runOnce();
                self::assertSame(4, $this->backend->checkpoint(WalletProjector::class));
            }
        };
        $processed = $this->worker([new WalletProjector()], [], ['batch_size' => 2])->rebuild([], $progress);

        self::assertSame(4, $processed);
        self::assertSame([2, 4], $seen);
        self::assertSame(115, Wallet::find($ada)?->balance);
        self::assertSame(4, $this->backend->checkpoint(WalletProjector::class));
        self::assertSame(0, $this->backend->checkpoint(WalletProjector::class . ' (rebuild)'));
        self::assertNull(ProjectorStatus::find(WalletProjector::class . ' (rebuild)'));
        self::assertSame(1, Wallet::count());
        $last = $this->backend->commits()[\count($this->backend->commits()) - 1];
        self::assertSame(['swap', Wallet::class, ProjectorRebuild::shadowClass(Wallet::class)], $last['changes'][0]);
        self::assertSame([[WalletProjector::class, 4, 4], [WalletProjector::class . ' (rebuild)', 4, 0]], $last['checkpoints']);
        foreach ($this->backend->commits() as $commit) {
            foreach ($commit['changes'] as $change) {
                if ($change[0] === 'upsert' && $commit !== $this->backend->commits()[0] && $commit['checkpoints'][0][0] !== WalletProjector::class) {
                    self::assertNotSame(Wallet::class, $change[1], 'the rebuild never writes the live class');
                }
            }
        }
    }

    public function testASwapRefusedBecauseTheLiveWorkerMovedCatchesUpAndSwapsAgain(): void
    {
        $ada = BankAccount::open('Ada')->add(10)->persist()->uuid();
        $this->worker([new WalletProjector()])->runOnce();
        $racing = new SwapRacingBackend($this->backend);
        Runtime::useBackend($racing);
        $racing->beforeFirstSwap = function () use ($ada): void {
            BankAccount::retrieve($ada)->add(7)->persist();
            $this->worker([new WalletProjector()])->runOnce(); // the live worker: checkpoint 2 -> 3
        };

        $this->worker([new WalletProjector()])->rebuild();

        self::assertStringContainsString('swap refused, checkpoint ' . WalletProjector::class . ' moved (expected 2, found 3)', implode("\n", $this->logLines));
        self::assertSame(17, Wallet::find($ada)?->balance, 'the event the live worker projected meanwhile is in the swapped-in projection');
        self::assertSame(3, $this->backend->checkpoint(WalletProjector::class));
        $swaps = array_filter($this->backend->commits(), static fn (array $c): bool => ($c['changes'][0][0] ?? '') === 'swap');
        self::assertCount(1, $swaps, 'the refused swap changed nothing');
    }

    public function testARebuildingProjectorShowsItsProgressAsAStatus(): void
    {
        BankAccount::open('Ada')->add(1)->add(2)->persist();
        $statuses = [];
        $this->worker([new WalletProjector()], [], ['batch_size' => 1])->rebuild(
            ['WalletProjector'],
            static function (ProjectorRebuildProgress $progress) use (&$statuses): void {
                $status = ProjectorStatus::find(WalletProjector::class . ' (rebuild)');
                $statuses[] = [$status?->status, $status?->position, $status?->target, $progress->head];
            },
        );
        self::assertSame([['rebuilding', 1, 3, 3], ['rebuilding', 2, 3, 3], ['rebuilding', 3, 3, 3]], $statuses);
    }

    public function testRunStopsAtMaxEventsWithStatus0(): void
    {
        BankAccount::open('Ada')->add(1)->add(2)->add(3)->add(4)->persist();

        $status = $this->worker([new WalletProjector()], [], ['max_events' => 3, 'batch_size' => 2])->run();

        self::assertSame(0, $status);
        self::assertSame(3, $this->backend->checkpoint(WalletProjector::class));
        self::assertStringContainsString('max events 3 reached', implode("\n", $this->logLines));
    }

    public function testSigtermFinishesTheBatchAndReturns0(): void
    {
        if (!\function_exists('posix_kill') || !\function_exists('pcntl_signal')) {
            self::markTestSkipped('needs posix and pcntl');
        }
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        BankAccount::open('Ada')->add(1)->add(2)->persist();
        BankAccount::open('Bob')->persist();
        $reactor = new RecordingReactor();
        $reactor->onEvent = static function (Event $event): void {
            if ($event->meta()->position() === 1) {
                posix_kill(getmypid(), SIGTERM);
            }
        };

        try {
            $status = $this->worker([new WalletProjector()], [$reactor], ['batch_size' => 3])->run();
        } finally {
            pcntl_signal(SIGTERM, SIG_DFL);
            pcntl_signal(SIGINT, SIG_DFL);
        }

        self::assertSame(0, $status);
        self::assertSame([1, 2, 3], $reactor->positions, 'the batch was finished, the next one not started');
        self::assertSame(3, $this->backend->checkpoint(RecordingReactor::class));
        self::assertSame(3, $this->backend->checkpoint(WalletProjector::class));
        self::assertStringContainsString('received SIGTERM: stopping after this batch', implode("\n", $this->logLines));
    }

    public function testStopEndsTheRunLoopAfterTheBatch(): void
    {
        BankAccount::open('Ada')->add(1)->persist();
        $worker = null;
        $reactor = new RecordingReactor();
        $reactor->onEvent = static function () use (&$worker): void {
            $worker->stop();
        };
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        $worker = $this->worker([new WalletProjector()], [$reactor]);

        self::assertSame(0, $worker->run());
        self::assertSame([1, 2], $reactor->positions);
    }

    public function testANewReactorStartsAtTheHead(): void
    {
        BankAccount::open('Ada')->add(1)->persist();
        $reactor = new RecordingReactor();
        $worker = $this->worker([new WalletProjector()], [$reactor]);

        $worker->runOnce();
        self::assertSame([], $reactor->positions, 'history does not fire a new reactor');
        self::assertSame(2, $this->backend->checkpoint(RecordingReactor::class));

        BankAccount::open('Bob')->add(5)->persist();
        $worker->runOnce();

        self::assertSame([3, 4], $reactor->positions);
        self::assertSame(4, $this->backend->checkpoint(RecordingReactor::class));
    }

    public function testAKnownReactorResumesAtItsCheckpointAndSeesProjectedState(): void
    {
        $uuid = BankAccount::open('Ada')->add(10)->add(5)->persist()->uuid();
        $this->backend->setCheckpoint(RecordingReactor::class, 1);
        $reactor = new RecordingReactor();

        $this->worker([new WalletProjector()], [$reactor])->runOnce();

        self::assertSame([2, 3], $reactor->positions);
        self::assertSame([15, 15], $reactor->balancesSeen, 'reactors run after the projectors committed the batch');
        $reactorCommits = array_values(array_filter(
            $this->backend->commits(),
            static fn (array $commit) => $commit['changes'] === [] && $commit['projected'] === null,
        ));
        self::assertSame([[[RecordingReactor::class, 1, 3]]], array_column($reactorCommits, 'checkpoints'));
    }

    public function testAReactorMayNotChangeEntities(): void
    {
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        BankAccount::open('Ada')->persist();
        $reactor = new RecordingReactor();
        $reactor->onEvent = static function (Event $event): void {
            $wallet = new Wallet();
            $wallet->uuid = 'x';
            $wallet->name = 'x';
            $wallet->save();
        };

        try {
            $this->worker([], [$reactor])->runOnce();
            self::fail('expected a failure');
        } catch (EventHandlerFailedException $failure) {
            self::assertInstanceOf(StateException::class, $failure->getPrevious());
        }
    }

    public function testEventsRecordedByAReactorAreCausedByTheHandledEvent(): void
    {
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        $source = BankAccount::open('Ada')->persist()->uuid();
        $target = BankAccount::open('Bob')->persist()->uuid();
        $reactor = new RecordingReactor();
        $reactor->onEvent = static function (Event $event) use ($source, $target): void {
            if ($event->meta()->aggregateUuid() === $source) {
                BankAccount::retrieve($target)->add(100)->persist();
            }
        };

        $this->worker([], [$reactor])->runOnce();

        [$opened] = $this->backend->streamEvents($source);
        $added = $this->backend->streamEvents($target)[1];
        self::assertSame($opened->meta()->eventId(), $added->meta()->causationId());
        self::assertSame($opened->meta()->correlationId(), $added->meta()->correlationId());
        self::assertNotNull($added->meta()->correlationId());
        self::assertSame([1, 2, 3], $reactor->positions, 'the reactor also handled the event it caused');
    }

    public function testAHandlerSeesItsEventsIdsInTheContextAndTheyAreGoneAfterwards(): void
    {
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        BankAccount::open('Ada')->add(1)->persist();
        $seen = [];
        $reactor = new RecordingReactor();
        $reactor->onEvent = static function (Event $event) use (&$seen): void {
            $seen[] = [Context::causationId(), Context::correlationId()];
            self::assertSame($event->meta()->eventId(), Context::causationId());
        };

        $this->worker([], [$reactor])->runOnce();

        $events = $this->backend->eventsAfter(0, 10);
        self::assertSame(
            array_map(static fn (Event $e): array => [$e->meta()->eventId(), $e->meta()->correlationId()], $events),
            $seen,
        );
        self::assertNull(Context::causationId(), 'no causation leaks out of the worker');
    }

    public function testEveryProjectorSeesTheHandledEventsIdsWhateverAnEarlierOneDidToTheContext(): void
    {
        BankAccount::open('Ada')->persist();
        Context::setCorrelationId('outer');
        $seen = [];
        $meddler = new class extends Projector {
            public function name(): string
            {
                return 'meddler';
            }

            public function onAccountOpened(AccountOpened $event): void
            {
                Context::setCorrelationId('changed by a handler');
            }
        };
        $observer = new class ($seen) extends Projector {
            /** @param list<array{?string, ?string}> $seen */
            public function __construct(private array &$seen)
            {
            }

            public function onAccountOpened(AccountOpened $event): void
            {
                $this->seen[] = [Context::causationId(), Context::correlationId()];
            }
        };

        $this->worker([$meddler, $observer])->runOnce();

        [$opened] = $this->backend->eventsAfter(0, 1);
        self::assertSame([[$opened->meta()->eventId(), $opened->meta()->correlationId()]], $seen);
        self::assertSame('outer', Context::correlationId(), 'the worker puts the Context back after the batch');
        self::assertNull(Context::causationId());
    }

    public function testAFailingReactorLeavesTheContextAsItWas(): void
    {
        $this->backend->setCheckpoint(RecordingReactor::class, 0);
        BankAccount::open('Ada')->persist();
        Context::setCorrelationId('outer');
        $reactor = new RecordingReactor();
        $reactor->onEvent = static function (Event $event): void {
            Context::causationId(); // reads the handled event's ids into the Context
            throw new \RuntimeException('reactor down');
        };

        try {
            $this->worker([], [$reactor])->runOnce();
            self::fail('the reactor failure must surface');
        } catch (EventHandlerFailedException $failure) {
            self::assertSame('onAccountOpened', $failure->method());
            self::assertSame(RecordingReactor::class, $failure->handlerClass());
        }

        self::assertSame('outer', Context::correlationId());
        self::assertNull(Context::causationId());
    }

    public function testAllHandlerMethodsOfAnEventRunInDeclarationOrderWhateverTheirVisibility(): void
    {
        BankAccount::open('Ada')->add(5)->persist();
        $projector = new class extends Projector {
            /** @var list<string> */
            public array $calls = [];

            public function whenMoneyMoves(MoneyAdded|AccountOpened $event): void
            {
                $this->calls[] = 'whenMoneyMoves#' . $event->meta()->position();
            }

            protected function onMoneyAdded(MoneyAdded $event): void
            {
                $this->calls[] = 'onMoneyAdded#' . $event->meta()->position();
            }

            public function notAHandler(string $text): void
            {
                $this->calls[] = $text;
            }
        };

        $this->worker([$projector])->runOnce();

        self::assertSame(['whenMoneyMoves#1', 'whenMoneyMoves#2', 'onMoneyAdded#2'], $projector->calls);
    }

    public function testTheWorkerReadsPositionsOnlyFromEventsReadFromTheStore(): void
    {
        BankAccount::open('Ada')->add(1)->persist();
        $stored = $this->backend->eventsAfter(0, 10);
        self::assertSame([1, 2], EventPositions::of($stored));

        $this->expectException(EventSrvException::class);
        $this->expectExceptionMessage(
            'event 1 of the batch (' . MoneyAdded::class . ') has no position: the worker handles only '
            . 'EventSrv\Event objects read from the store',
        );
        EventPositions::of([$stored[0], new MoneyAdded(1)]);
    }

    public function testAWorkerWithoutProjectorsDoesNotAttach(): void
    {
        $this->worker([], [new RecordingReactor()])->runOnce();

        self::assertSame(0, $this->backend->positions()['workers']);
    }

    public function testCheckpointNamesMustBeUnique(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('checkpoint names must be unique');

        $this->worker([new WalletProjector(), new WalletProjector()]);
    }

    public function testOnlyProjectorsAndReactorsAreAccepted(): void
    {
        $this->expectException(\InvalidArgumentException::class);

        $this->worker([new RecordingReactor()]); // @phpstan-ignore-line
    }

    public function testEntityWritesAreRefusedAgainAfterTheBatch(): void
    {
        BankAccount::open('Ada')->persist();
        $this->worker([new WalletProjector()])->runOnce();

        $wallet = Wallet::all()[0];
        $this->expectException(StateException::class);
        $wallet->save();
    }
}

/** Deletes and re-creates a wallet on MoneyAdded; records what it sees inside the batch. */
final class RecreatingProjector extends Projector
{
    /** @var list<array{int, string}> */
    public static array $observed = [];

    public function onAccountOpened(AccountOpened $event): void
    {
        $wallet = new Wallet();
        $wallet->uuid = $event->meta()->aggregateUuid();
        $wallet->name = $event->name;
        $wallet->save();
    }

    public function onMoneyAdded(MoneyAdded $event): void
    {
        $old = Wallet::find($event->meta()->aggregateUuid()) ?? throw new \LogicException('wallet missing');
        self::$observed[] = [Wallet::count(), Wallet::all()[1]->uuid];
        $old->delete();
        self::assertGone($old);
        $new = clone $old;
        $new->balance = $event->amount;
        $new->save();
        $all = Wallet::all();
        self::$observed[] = [array_search($new->uuid, array_map(static fn (Entity $e) => $e->uuid, $all), true), end($all)->uuid];
    }

    private static function assertGone(Wallet $wallet): void
    {
        if (Wallet::find($wallet->uuid) !== null || Wallet::count() !== 1) {
            throw new \LogicException('the deleted wallet is still visible');
        }
    }
}

/** Simulates another worker: at a given position, moves a projector's checkpoint behind our back. */
final class InterferingProjector extends Projector
{
    private bool $done = false;

    public function __construct(
        private \EventSrv\Testing\InMemoryBackend $backend,
        private string $victim,
        private int $moveTo,
        private \Closure $alsoCommit,
    ) {
    }

    public function onMoneyAdded(MoneyAdded $event): void
    {
        if (!$this->done) {
            $this->done = true;
            ($this->alsoCommit)();
            $this->backend->setCheckpoint($this->victim, $this->moveTo);
        }
    }
}
