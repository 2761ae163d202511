<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\ProjectorRebuild;
use EventSrv\ProjectorStatus;
use EventSrv\Status\HandlerStatus;
use EventSrv\Status\StatusReport;
use EventSrv\Tests\Fixtures\BankAccount;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\RecordingReactor;
use EventSrv\Tests\Fixtures\TagProjector;
use EventSrv\Tests\Fixtures\WalletProjector;

/** What `eventsrv:status` and the status pages tell an operator about each projector. */
final class StatusReportTest extends TestCase
{
    public function testAFailedProjectorIsReportedWithWhereAndWhyBesideItsCheckpointAndLag(): void
    {
        BankAccount::open('Ada')->add(1)->add(13)->add(2)->persist();
        $wallets = new WalletProjector();
        $wallets->failOnAmount = 13;
        $tags = new TagProjector();
        $this->worker([$wallets, $tags])->runOnce();

        $report = StatusReport::collect([$wallets, $tags], []);

        $failed = $report->handler(WalletProjector::class);
        self::assertNotNull($failed);
        self::assertSame([$failed], $report->failed());
        self::assertSame(2, $failed->checkpoint);
        self::assertSame(2, $failed->lag);
        self::assertSame('behind by 2: stopped until retried', $failed->progress());
        $json = $report->toArray();
        self::assertSame(1, $json['failed']);
        self::assertSame('failed', $json['handlers'][0]['status']);
        self::assertSame([
            'exception' => \RuntimeException::class,
            'message' => 'refusing amount 13',
            'handler' => WalletProjector::class . '::onMoneyAdded',
            'event' => MoneyAdded::class,
            'position' => 3,
        ], $json['handlers'][0]['failure']);
        self::assertStringStartsWith(
            'failed on event #3 (' . MoneyAdded::class . ') in ' . WalletProjector::class
                . '::onMoneyAdded: RuntimeException: refusing amount 13',
            $failed->summary(),
        );
        self::assertSame('active', $json['handlers'][1]['status'], 'the other projector is not dragged along');
        self::assertNull($json['handlers'][1]['failure']);
        self::assertSame('up to date', $json['handlers'][1]['progress']);
    }

    public function testAPausedProjectorIsReportedUntilResumed(): void
    {
        BankAccount::open('Ada')->add(5)->persist();
        $tags = new TagProjector();
        $worker = $this->worker([new WalletProjector(), $tags]);
        $worker->runOnce();
        BankAccount::open('Bob')->persist();
        $worker->setStatus('tags', ProjectorStatus::PAUSED);
        $worker->runOnce();

        $paused = StatusReport::collect([new WalletProjector(), $tags], [])->handler('tags');
        self::assertNotNull($paused);
        self::assertTrue($paused->isPaused());
        self::assertSame('paused', $paused->statusName());
        self::assertSame(1, $paused->lag);
        self::assertSame('behind by 1: stopped until resumed', $paused->progress());
        self::assertStringStartsWith('paused since ', $paused->summary());

        $worker->setStatus('tags', ProjectorStatus::ACTIVE);
        $worker->runOnce();
        $resumed = StatusReport::collect([new WalletProjector(), $tags], [])->handler('tags');
        self::assertSame('active', $resumed?->statusName());
        self::assertSame('up to date', $resumed->progress());
    }

    public function testARebuildBesideTheLiveProjectionShowsOnTheProjectorsLineWithItsProgress(): void
    {
        BankAccount::open('Ada')->add(5)->persist();
        $tags = new TagProjector();
        $this->worker([$tags])->runOnce();
        $rebuild = ProjectorStatus::named(ProjectorRebuild::checkpointName('tags'), ProjectorStatus::REBUILDING);
        $rebuild->position = 1;
        $rebuild->target = 4;
        $this->backend->commit([['upsert', ProjectorStatus::class, $rebuild->uuid, $rebuild, 0]], [], null);
        $this->backend->setCheckpoint(ProjectorRebuild::checkpointName('tags'), 1);

        $report = StatusReport::collect([$tags], []);

        self::assertCount(1, $report->handlers, 'the rebuild checkpoint is no line of its own');
        $json = $report->toArray()['handlers'][0];
        self::assertSame('rebuilding', $json['status']);
        self::assertSame(['position' => 1, 'target' => 4, 'percent' => 25], $json['rebuild']);
        self::assertStringStartsWith('rebuilding: 1/4 events (25%)', $json['summary']);
    }

    public function testReactorsAndCheckpointsNoConfiguredClassOwnsAreListedWithTheirKind(): void
    {
        BankAccount::open('Ada')->persist();
        $this->backend->setCheckpoint('App\\RemovedProjector', 1);

        $report = StatusReport::collect([new TagProjector()], [new RecordingReactor()]);

        $kinds = array_map(static fn (HandlerStatus $h): array => [$h->kind, $h->statusName()], $report->handlers);
        self::assertSame([['projector', 'active'], ['reactor', 'active'], ['unconfigured', 'active']], $kinds);
        self::assertSame('new: starts at the head when a worker runs', $report->handlers[1]->progress());
        self::assertSame('not configured in this app', $report->handlers[2]->progress());
        self::assertNull($report->handlers[0]->since, 'no status was ever set: no time to show');
        self::assertSame('running', $report->toArray()['daemon']);
    }
}
