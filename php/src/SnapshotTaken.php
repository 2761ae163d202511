<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * The state of an aggregate at one version (AggregateRoot::snapshot()), stored as an ordinary
 * event in the companion stream "<uuid>.snapshot". $state lists every initialized property of
 * the aggregate as [declaring class, property name, value], so a parent's private property and
 * a child's property of the same name stay apart.
 *
 * Projectors and reactors see these events in the global order like any other; give them no
 * handler for SnapshotTaken.
 */
final class SnapshotTaken extends Event
{
    /** The suffix of the stream that holds an aggregate's snapshots. */
    public const STREAM_SUFFIX = '.snapshot';

    /** @param list<array{0: string, 1: string, 2: mixed}> $state */
    public function __construct(
        public readonly string $aggregateClass,
        public readonly int $aggregateVersion,
        public readonly int $snapshotVersion,
        public readonly array $state,
    ) {
    }
}
