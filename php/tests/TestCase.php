<?php

declare(strict_types=1);

namespace EventSrv\Tests;

use EventSrv\Context;
use EventSrv\EventTypes;
use EventSrv\Projector;
use EventSrv\Reactor;
use EventSrv\Testing\InMemoryBackend;
use EventSrv\Upcasters;
use EventSrv\Worker;

/**
 * Every test gets a fresh in-memory backend and a clean process state.
 */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    protected InMemoryBackend $backend;

    /** @var list<string> */
    protected array $logLines = [];

    protected function setUp(): void
    {
        EventTypes::reset();
        Upcasters::reset();
        Context::reset();
        $this->backend = InMemoryBackend::install();
    }

    protected function tearDown(): void
    {
        InMemoryBackend::uninstall();
        Context::reset();
        EventTypes::reset();
        Upcasters::reset();
        gc_collect_cycles();
    }

    /**
     * @param list<Projector> $projectors
     * @param list<Reactor> $reactors
     * @param array<string, int> $options
     */
    protected function worker(array $projectors, array $reactors = [], array $options = []): Worker
    {
        return new Worker($projectors, $reactors, $options, function (string $line): void {
            $this->logLines[] = $line;
        });
    }
}
