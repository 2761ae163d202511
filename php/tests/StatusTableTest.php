<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\ProjectorStatus;
use EventSrv\Status\StatusReport;
use EventSrv\Status\StatusTable;
use EventSrv\Tests\Fixtures\BankAccount;
use EventSrv\Tests\Fixtures\MoneyAdded;
use EventSrv\Tests\Fixtures\TagProjector;
use EventSrv\Tests\Fixtures\WalletProjector;
use Symfony\Component\Console\Output\BufferedOutput;

/** What `eventsrv:status` prints (needs symfony/console, as artisan and bin/console do). */
final class StatusTableTest extends TestCase
{
    /** Debian's php-symfony-console, which the framework tests install too. */
    private const DEBIAN_CONSOLE_AUTOLOAD = '/usr/share/php/Symfony/Component/Console/autoload.php';

    protected function setUp(): void
    {
        parent::setUp();
        if (!class_exists(BufferedOutput::class) && is_file(self::DEBIAN_CONSOLE_AUTOLOAD)) {
            require_once self::DEBIAN_CONSOLE_AUTOLOAD;
        }
        if (!class_exists(BufferedOutput::class)) {
            self::markTestSkipped('symfony/console is not installed');
        }
    }

    public function testTheTableNamesTheFailedAndThePausedProjectorAndHowToRetry(): void
    {
        BankAccount::open('Ada')->add(13)->persist();
        $wallets = new WalletProjector();
        $wallets->failOnAmount = 13;
        $tags = new TagProjector();
        $worker = $this->worker([$wallets, $tags]);
        $worker->runOnce();
        $worker->setStatus('tags', ProjectorStatus::PAUSED);
        $output = new BufferedOutput();

        StatusTable::render(StatusReport::collect([$wallets, $tags], []), $output, false);

        $printed = $output->fetch();
        $row = static fn (string ...$cells): string => '/' . implode('\s*\|\s*', $cells) . '/';
        self::assertMatchesRegularExpression($row('WalletProjector', 'projector', '1', '1', 'failed'), $printed);
        self::assertStringContainsString(
            WalletProjector::class . ': failed on event #2 (' . MoneyAdded::class . ')',
            $printed,
        );
        self::assertStringContainsString('fix the cause, then: eventsrv:retry ' . WalletProjector::class, $printed);
        self::assertMatchesRegularExpression($row('tags', 'projector', '2', '0', 'paused', 'up to date'), $printed);
        self::assertStringContainsString('tags: paused since ', $printed);
    }

    public function testJsonIsTheReportsArray(): void
    {
        BankAccount::open('Ada')->persist();
        $output = new BufferedOutput();

        StatusTable::render(StatusReport::collect([new TagProjector()], []), $output, true);

        $json = json_decode($output->fetch(), true, 512, JSON_THROW_ON_ERROR);
        self::assertSame('tags', $json['handlers'][0]['name']);
        self::assertSame('active', $json['handlers'][0]['status']);
        self::assertSame(0, $json['failed']);
    }
}
