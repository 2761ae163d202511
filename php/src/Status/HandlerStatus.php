<?php

declare(strict_types=1);

namespace EventSrv\Status;

use EventSrv\ProjectorStatus;

/**
 * One projector's or reactor's line in a StatusReport: where its checkpoint is, how far behind
 * the head, and its lifecycle status (active, paused, failed with where and why, rebuilding with
 * how far the rebuild beside it got).
 */
final class HandlerStatus
{
    public const PROJECTOR = 'projector';
    public const REACTOR = 'reactor';
    /** A checkpoint no configured class owns: a renamed or removed projector, or another app's. */
    public const UNCONFIGURED = 'unconfigured';

    private function __construct(
        public readonly string $name,
        public readonly string $kind,
        public readonly ?int $checkpoint,
        public readonly ?int $lag,
        /** The stored status (ProjectorStatus::ACTIVE when none is stored). */
        public readonly ProjectorStatus $status,
        /** When the stored status was set; null when none is stored (never changed: active). */
        public readonly ?string $since,
        /** The status entity of a rebuild running beside the live projection, if one runs. */
        public readonly ?ProjectorStatus $rebuild,
        private readonly int $workers,
    ) {
    }

    public static function of(
        string $name,
        string $kind,
        ?int $checkpoint,
        int $committed,
        int $workers,
        ?ProjectorStatus $stored,
        ?ProjectorStatus $rebuild = null,
    ): self {
        $lag = $checkpoint === null ? null : max(0, $committed - $checkpoint);
        $status = $stored ?? ProjectorStatus::named($name, ProjectorStatus::ACTIVE);
        $since = $stored === null || $stored->since === '' ? null : $stored->since;
        return new self($name, $kind, $checkpoint, $lag, $status, $since, $rebuild, $workers);
    }

    public function isFailed(): bool
    {
        return $this->status->status === ProjectorStatus::FAILED;
    }

    public function isPaused(): bool
    {
        return $this->status->status === ProjectorStatus::PAUSED;
    }

    /** active, paused, failed or rebuilding (an active projector with a rebuild beside it). */
    public function statusName(): string
    {
        return $this->rebuild !== null && $this->status->runs() ? ProjectorStatus::REBUILDING : $this->status->status;
    }

    /** How far the checkpoint is, in words: up to date, catching up, no worker attached, ... */
    public function progress(): string
    {
        $lag = $this->lag;
        return match (true) {
            $this->checkpoint === null && $this->kind === self::REACTOR => 'new: starts at the head when a worker runs',
            $this->checkpoint === null => 'not started: no worker has run it yet',
            $this->kind === self::UNCONFIGURED => 'not configured in this app',
            $lag === 0 => 'up to date',
            !$this->status->runs() => "behind by $lag: stopped until " . ($this->isFailed() ? 'retried' : 'resumed'),
            $this->workers === 0 => "behind by $lag: no worker attached",
            default => "catching up: $lag behind",
        };
    }

    /** The status and progress in one line, for tables and pages. */
    public function summary(): string
    {
        $status = $this->status;
        $said = match (true) {
            $this->isFailed() => sprintf(
                'failed on event #%d (%s) in %s: %s: %s',
                $status->position,
                $status->event,
                $status->handler,
                $status->exception,
                $status->error,
            ),
            $this->isPaused() => 'paused' . ($this->since === null ? '' : " since $this->since"),
            $this->rebuild !== null => 'rebuilding: ' . $this->rebuildProgress(),
            default => 'active',
        };
        return "$said; " . $this->progress();
    }

    /** @return array<string, mixed> the handler's entry in the status JSON */
    public function toArray(): array
    {
        $status = $this->status;
        return [
            'name' => $this->name,
            'kind' => $this->kind,
            'checkpoint' => $this->checkpoint,
            'lag' => $this->lag,
            'status' => $this->statusName(),
            'progress' => $this->progress(),
            'since' => $this->since,
            'failure' => $this->isFailed() ? [
                'exception' => $status->exception,
                'message' => $status->error,
                'handler' => $status->handler,
                'event' => $status->event,
                'position' => $status->position,
            ] : null,
            'rebuild' => $this->rebuild === null ? null : [
                'position' => $this->rebuild->position,
                'target' => $this->rebuild->target,
                'percent' => $this->rebuildPercent(),
            ],
            'summary' => $this->summary(),
        ];
    }

    private function rebuildPercent(): ?int
    {
        if ($this->rebuild === null || $this->rebuild->target <= 0) {
            return null;
        }
        return (int) min(100, intdiv(100 * $this->rebuild->position, $this->rebuild->target));
    }

    private function rebuildProgress(): string
    {
        \assert($this->rebuild !== null);
        $percent = $this->rebuildPercent();
        return sprintf(
            '%d/%d events%s',
            $this->rebuild->position,
            $this->rebuild->target,
            $percent === null ? '' : " ($percent%)",
        );
    }
}
