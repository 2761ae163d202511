<?php

declare(strict_types=1);

namespace EventSrv;

/** One progress report of a rebuild (after each committed batch): what the commands render. */
final class ProjectorRebuildProgress
{
    public function __construct(
        public readonly string $projector,
        /** Last event the rebuild committed. */
        public readonly int $position,
        /** The head as far as the rebuild knows (it moves while events are appended). */
        public readonly int $head,
        public readonly int $processed,
        public readonly float $elapsedSeconds,
    ) {
    }

    public function eventsPerSecond(): float
    {
        return $this->elapsedSeconds > 0 ? $this->processed / $this->elapsedSeconds : 0.0;
    }

    /** Seconds left at the current rate; null before there is a rate. */
    public function etaSeconds(): ?float
    {
        $rate = $this->eventsPerSecond();
        return $rate > 0 ? max(0, $this->head - $this->position) / $rate : null;
    }

    /** One line: "Projector  1234/5000  24%  8100 events/s  ETA 0:01". */
    public function line(): string
    {
        $eta = $this->etaSeconds();
        return sprintf(
            '%s %d/%d %3d%% %d events/s ETA %s',
            $this->projector,
            $this->position,
            $this->head,
            $this->head > 0 ? intdiv(100 * $this->position, $this->head) : 100,
            (int) round($this->eventsPerSecond()),
            $eta === null ? '?' : sprintf('%d:%02d', intdiv((int) $eta, 60), (int) $eta % 60),
        );
    }
}
