<?php
/**
 * Version 2 of a small shop, for tests/event_versions.rs. Version 1 (tests/php/versioning.php
 * write) stored Shop\ItemAdded {price: whole euros} under its class name; version 2 renamed the
 * class to Shop\ProductAdded, stored as 'shop.product_added' {cents, sku}, and upcasts v1.
 * Usable as a worker / eventsrv-events bootstrap.
 */

declare(strict_types=1);

namespace Shop;

require_once __DIR__ . '/../../php/autoload.php';

use EventSrv\AggregateRoot;
use EventSrv\Event;
use EventSrv\EventMeta;
use EventSrv\EventName;
use EventSrv\EventTypes;
use EventSrv\EventVersion;
use EventSrv\Projector;
use EventSrv\Upcaster;
use EventSrv\Upcasters;

#[EventName('shop.product_added', aliases: ['Shop\ItemAdded'])]
#[EventVersion(2)]
final class ProductAdded extends Event
{
    public function __construct(public readonly int $cents, public readonly string $sku)
    {
    }
}

final class PriceInCents implements Upcaster
{
    public static int $calls = 0;

    public function upcast(array $payload, EventMeta $meta): array
    {
        self::$calls++;
        return ['cents' => $payload['price'] * 100, 'sku' => 'v1-' . $meta->version()];
    }
}

final class Basket extends AggregateRoot
{
    /** @var list<string> */
    public array $lines = [];

    public function add(int $cents, string $sku): static
    {
        return $this->event(new ProductAdded($cents, $sku));
    }

    protected function applyProductAdded(ProductAdded $event): void
    {
        $this->lines[] = "$event->sku:$event->cents";
    }
}

final class BasketProjector extends Projector
{
    /** @var list<string> */
    public array $seen = [];

    public function onProductAdded(ProductAdded $event): void
    {
        $this->seen[] = "$event->sku:$event->cents (stored v{$event->meta()->eventVersion()})";
    }
}

EventTypes::register([ProductAdded::class]);
Upcasters::register(ProductAdded::class, [1 => new PriceInCents()]);

return ['projectors' => [new BasketProjector()]];
