<?php

declare(strict_types=1);

namespace EventSrv\Internal;

use EventSrv\EventHandlerFailedException;
use EventSrv\Projector;

/**
 * What the Worker tells the operator: one line per call to the sink the app gave (default:
 * STDERR with a timestamp), and the longer messages of a failing handler, a checkpoint conflict
 * and a stop by an exception, worded once here.
 *
 * @internal
 */
final class WorkerLog
{
    /** @param \Closure(string): void $sink receives each log line */
    public function __construct(public readonly \Closure $sink)
    {
    }

    /** @return \Closure(string): void writes each line to STDERR with a timestamp */
    public static function stderr(): \Closure
    {
        $stderr = fopen('php://stderr', 'w');
        return static function (string $line) use ($stderr): void {
            $time = (new \DateTimeImmutable())->format('Y-m-d H:i:s.v');
            fwrite($stderr, "[$time] $line\n");
        };
    }

    public function line(string $line): void
    {
        ($this->sink)($line);
    }

    /** @param bool $marked the projector's failed status was committed */
    public function handlerFailure(EventHandlerFailedException $failure, bool $marked = false): void
    {
        $cause = $failure->getPrevious();
        \assert($cause !== null);
        $kind = is_subclass_of($failure->handlerClass(), Projector::class) ? 'projector' : 'reactor';
        $position = $failure->position();
        $this->line(sprintf(
            '%s %s failed on event #%s %s in %s(): %s: %s (at %s:%d)',
            $kind,
            $failure->handlerClass(),
            $position ?? '?',
            $failure->event()::class,
            $failure->method(),
            $cause::class,
            $cause->getMessage(),
            $cause->getFile(),
            $cause->getLine(),
        ));
        $this->line("stack trace:\n" . $cause->getTraceAsString());
        if ($kind === 'projector') {
            $this->line(sprintf(
                '%s: the event was not skipped; the other projectors keep running. Fix it, then run '
                . 'eventsrv-worker --retry=<name> (it resumes at event #%s)',
                $marked
                    ? 'projector marked failed'
                    : 'the failure could not be committed (checkpoint conflict); the batch runs again',
                $position ?? '?',
            ));
            return;
        }
        $this->line(sprintf(
            'worker stopped: the event was not skipped; fix the %s and restart the worker (it resumes at event #%s)',
            $kind,
            $position ?? '?',
        ));
    }

    /** @param array<string, mixed> $conflict the commit result that reported it */
    public function conflict(array $conflict): void
    {
        $this->line(sprintf(
            'checkpoint %s was moved by another worker (expected %d, found %d): batch dropped, continuing from there',
            $conflict['name'],
            $conflict['expected'],
            $conflict['actual'],
        ));
    }

    public function stoppedBy(\Throwable $failure): void
    {
        $this->line(sprintf(
            'worker stopped by %s: %s (at %s:%d)',
            $failure::class,
            $failure->getMessage(),
            $failure->getFile(),
            $failure->getLine(),
        ));
    }
}
