<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Turns a stored payload of one version of an event into the next version's shape (one step:
 * v1 → v2). Registered with Upcasters::register(EventClass::class, [1 => new MyUpcaster()]);
 * steps are chained on read until the class's #[EventVersion].
 *
 * Gets and returns the payload as an array of property name => value (what the value codec
 * stores). Must be pure: it runs every time an old event is read.
 */
interface Upcaster
{
    /**
     * @param array<string, mixed> $payload the payload in the shape of the version this upcaster reads
     * @return array<string, mixed> the payload in the shape of the next version
     */
    public function upcast(array $payload, EventMeta $meta): array;
}
