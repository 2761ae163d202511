<?php
/**
 * Event read micro-bench (not a pass/fail test): Native::eventsAfter() over the same number of
 * events of three kinds, interleaved per round, best round reported:
 *   plain     a class with no upcasters (the ordinary path)
 *   current   a class with upcasters, events stored at its current version (no PHP call)
 *   upcast    the same class, events stored at version 1 (decode, PHP chain, re-encode)
 *
 *   php -d extension=target/release/libeventsrv.so -d eventsrv.socket=... -d eventsrv.region=... \
 *       php/bench/events.php seed|run [events=5000] [rounds=7] [kinds=plain,current,upcast]
 *
 * `seed` appends the events (to a fresh daemon), `run` reads them. `run … plain` needs nothing
 * of the upcasting API, so it also runs against an extension built before it (a/b figures).
 */

declare(strict_types=1);

namespace Bench;

require_once __DIR__ . '/../autoload.php';

use EventSrv\EventMeta;
use EventSrv\EventTypes;
use EventSrv\Native;
use EventSrv\Upcaster;
use EventSrv\Upcasters;

final class Plain extends \EventSrv\Event
{
    public function __construct(public readonly int $cents, public readonly string $sku)
    {
    }
}

#[\EventSrv\EventVersion(2)]
final class Versioned extends \EventSrv\Event
{
    public function __construct(public readonly int $cents, public readonly string $sku)
    {
    }
}

final class OldVersioned extends \EventSrv\Event
{
    public function __construct(public readonly int $euros, public readonly string $sku)
    {
    }
}

final class ToCents implements Upcaster
{
    public function upcast(array $payload, EventMeta $meta): array
    {
        return ['cents' => $payload['euros'] * 100, 'sku' => $payload['sku']];
    }
}

[$_, $phase] = $argv + [1 => 'run'];
$events = (int) ($argv[2] ?? 5000);
$rounds = (int) ($argv[3] ?? 7);
$kinds = explode(',', $argv[4] ?? 'plain,current,upcast');
$batch = 500;

if ($phase === 'seed') {
    EventTypes::register([OldVersioned::class => 'bench.v1']);
    foreach (['plain' => Plain::class, 'current' => Versioned::class, 'upcast' => OldVersioned::class] as $kind => $class) {
        for ($done = 0; $done < $events; $done += $batch) {
            $list = [];
            $metadata = [];
            for ($i = 0; $i < $batch; $i++) {
                $list[] = new $class($done + $i, "sku-$i");
                $metadata[] = $class === Versioned::class ? ['event_version' => 2] : [];
            }
            Native::append("bench-$kind", -1, $list, $metadata);
        }
    }
    echo "seeded 3 x $events events\n";
    exit(0);
}

if ($kinds !== ['plain']) {
    // The v1 events were stored as 'bench.v1': that name now reads as Versioned.
    EventTypes::register([Versioned::class => [Versioned::class, 'bench.v1']]);
    Upcasters::register(Versioned::class, [1 => new ToCents()]);
}
$best = array_fill_keys($kinds, INF);
for ($round = 0; $round < $rounds; $round++) {
    foreach ($best as $kind => $_) {
        $first = ['plain' => 0, 'current' => $events, 'upcast' => 2 * $events][$kind];
        $start = hrtime(true);
        for ($at = $first; $at < $first + $events; $at += $batch) {
            $read = Native::eventsAfter($at, $batch);
        }
        $best[$kind] = min($best[$kind], (hrtime(true) - $start) / $events);
        \assert($read[0] instanceof Plain || $read[0] instanceof Versioned);
    }
}
foreach ($best as $kind => $ns) {
    printf("%-8s %7.0f ns/event (best of %d rounds, %d events)\n", $kind, $ns, $rounds, $events);
}
