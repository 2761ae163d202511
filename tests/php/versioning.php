<?php
// Event versions through the real extension: php versioning.php write|read <uuid>
//   write: version 1 of the app stores two Shop\ItemAdded {price} events (class name as type)
//   read:  version 2 (versioning_app.php) retrieves the basket, records a v2 event, runs a
//          projector over everything, and prints what each saw as JSON
require_once __DIR__ . '/../../php/autoload.php';

[$_, $phase, $uuid] = $argv;

if ($phase === 'write') {
    eval('namespace Shop; final class ItemAdded extends \EventSrv\Event {
        public function __construct(public readonly int $price) {} }');
    eval('namespace Shop; final class Basket extends \EventSrv\AggregateRoot {
        public function add(int $p): static { return $this->event(new ItemAdded($p)); } }');
    Shop\Basket::retrieve($uuid)->add(3)->add(4)->persist();
    echo "written\n";
    exit(0);
}

$app = require __DIR__ . '/versioning_app.php';
$basket = Shop\Basket::retrieve($uuid);
$callsForOld = Shop\PriceInCents::$calls;
$basket->add(999, 'new')->persist();
Shop\PriceInCents::$calls = 0;
$stream = EventSrv\Native::streamEvents($uuid, 2); // only the v2 event: no upcast
$callsForCurrent = Shop\PriceInCents::$calls;
$projector = $app['projectors'][0];
(new EventSrv\Worker([$projector], [], [], static function (): void {
}))->runOnce();
$all = EventSrv\Native::streamEvents($uuid);
echo json_encode([
    'aggregate' => $basket->lines,
    'upcasts_for_old' => $callsForOld,
    'upcasts_for_current' => $callsForCurrent,
    'projector' => $projector->seen,
    'classes' => array_map(fn ($e) => $e::class, $all),
    'types' => array_map(fn ($e) => $e->meta()->type(), $all),
    'event_versions' => array_map(fn ($e) => $e->meta()->eventVersion(), $all),
    'version' => $basket->version(),
    'reread' => Shop\Basket::retrieve($uuid)->lines,
]), "\n";
