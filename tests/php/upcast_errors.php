<?php
// Unhappy paths of event names and upcasting through the real extension:
//   php upcast_errors.php <uuid>
// Prints one JSON object: for each case, the exception class and message (or "no exception").
require_once __DIR__ . '/../../php/autoload.php';

use EventSrv\Native;

final class Stamp extends EventSrv\Event
{
    public function __construct(public readonly int $n)
    {
    }
}

#[EventSrv\EventVersion(2)]
final class StampV2 extends EventSrv\Event
{
    public function __construct(public readonly int $n, public readonly string $note)
    {
    }
}

final class Failing implements EventSrv\Upcaster
{
    public function upcast(array $payload, EventSrv\EventMeta $meta): array
    {
        throw new DomainException('upcaster says no at ' . $meta->position());
    }
}

$uuid = $argv[1];
$outcome = static function (callable $call): string {
    try {
        $call();
        return 'no exception';
    } catch (Throwable $e) {
        return $e::class . ': ' . $e->getMessage();
    }
};

Native::registerEventTypes(['Stamp' => 'stamp.v1']);
Native::append($uuid, 0, [new Stamp(1)], [[]]);

echo json_encode([
    'upcasts_not_int' => $outcome(fn () => Native::registerUpcasts(['stamp.v1' => 'two'])),
    'upcasts_zero' => $outcome(fn () => Native::registerUpcasts(['stamp.v1' => 0])),
    'upcasts_list' => $outcome(fn () => Native::registerUpcasts([2])),
    'types_empty_list' => $outcome(fn () => Native::registerEventTypes(['Stamp' => []])),
    'types_not_string' => $outcome(fn () => Native::registerEventTypes(['Stamp' => ['a', 7]])),
    'types_too_many' => $outcome(fn () => Native::registerEventTypes(['Stamp' => array_map(fn ($i) => "n$i", range(1, 65))])),
    // stamp.v1 now reads as StampV2 (v2) and its chain throws: the exception surfaces as is.
    'upcaster_throws' => $outcome(function () use ($uuid): void {
        EventSrv\EventTypes::register([StampV2::class => ['stamp.v2', 'stamp.v1']]);
        EventSrv\Upcasters::register(StampV2::class, [1 => new Failing()]);
        Native::streamEvents($uuid);
    }),
]), "\n";
