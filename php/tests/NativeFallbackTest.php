<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\EventSrvException;
use EventSrv\Internal\Runtime;
use EventSrv\Tests\Fixtures\Wallet;

final class NativeFallbackTest extends TestCase
{
    public function testWithoutTheExtensionReadsExplainWhatIsMissing(): void
    {
        if (\extension_loaded('eventsrv')) {
            self::markTestSkipped('the extension is loaded');
        }
        Runtime::useBackend(null);

        $this->expectException(EventSrvException::class);
        $this->expectExceptionMessage('EventSrv\Native::find() needs the eventsrv extension');

        Wallet::find('x');
    }
}
