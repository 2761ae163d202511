<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Internal\Runtime;
use EventSrv\Testing\ProjectorScenario;
use EventSrv\Tests\Fixtures\AccountOpened;
use EventSrv\Tests\Fixtures\BankAccount;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\MoneySubtracted;
use EventSrv\Tests\Fixtures\RecordingReactor;
use EventSrv\Tests\Fixtures\Wallet;
use EventSrv\Tests\Fixtures\WalletProjector;
use PHPUnit\Framework\AssertionFailedError;

final class TestingHelpersTest extends TestCase
{
    public function testGivenWhenAssertRecorded(): void
    {
        BankAccount::fake('acc-1')
            ->given([new AccountOpened('Ada'), new MoneyAdded(5)])
            ->when(fn (BankAccount $account) => $account->subtract(3))
            ->assertRecorded(new MoneySubtracted(3))
            ->assertNotRecorded(MoneyAdded::class);
    }

    public function testTheHistoryIsAppliedBeforeTheCommand(): void
    {
        $scenario = BankAccount::fake()
            ->given([new AccountOpened('Ada'), new MoneyAdded(5), new MoneyAdded(7)])
            ->when(fn (BankAccount $account) => $account->add(1));
        self::assertSame(13, $scenario->aggregate()->balance);
        self::assertSame(3, $scenario->aggregate()->version());
    }

    public function testARefusedCommandRecordsNothing(): void
    {
        $this->expectException(\DomainException::class);
        BankAccount::fake()
            ->given([new AccountOpened('Ada')])
            ->when(fn (BankAccount $account) => $account->subtract(1));
    }

    public function testAssertRecordedFailsOnADifferentPayload(): void
    {
        $this->expectException(AssertionFailedError::class);
        BankAccount::fake()
            ->when(fn (BankAccount $account) => $account->add(2))
            ->assertRecorded(new MoneyAdded(3));
    }

    public function testAssertNothingRecordedFailsWhenSomethingWas(): void
    {
        $this->expectException(AssertionFailedError::class);
        BankAccount::fake()->when(fn (BankAccount $account) => $account->add(2))->assertNothingRecorded();
    }

    public function testPersistInsideWhenCountsAndReachesNoDaemon(): void
    {
        $before = Runtime::installedBackend();
        BankAccount::fake('acc-2')
            ->given([new AccountOpened('Bo')])
            ->when(fn (BankAccount $account) => $account->add(4)->add(6)->persist())
            ->assertRecorded([new MoneyAdded(4), new MoneyAdded(6)]);
        self::assertSame($before, Runtime::installedBackend(), 'the scenario restores the backend');
    }

    public function testProjectorScenarioProjectsIntoReadableEntities(): void
    {
        $scenario = ProjectorScenario::for(new WalletProjector())
            ->given('w-1', [new AccountOpened('Ada'), new MoneyAdded(10)])
            ->given('w-2', [new AccountOpened('Bo')])
            ->run();
        self::assertSame(10, Wallet::find('w-1')?->balance);
        self::assertSame(['Ada', 'Bo'], array_map(fn (Wallet $w) => $w->name, Wallet::all()));

        $scenario->given('w-1', [new MoneySubtracted(4)])->run();
        self::assertSame(6, Wallet::find('w-1')?->balance);
        $scenario->close();
    }

    public function testProjectorScenarioRunsReactorsFromTheFirstEvent(): void
    {
        $reactor = new RecordingReactor();
        ProjectorScenario::for(new WalletProjector())
            ->withReactors($reactor)
            ->given('w-3', [new AccountOpened('Cy'), new MoneyAdded(1)])
            ->run()
            ->close();
        self::assertCount(2, $reactor->positions, "the reactor saw both events");
    }
}
