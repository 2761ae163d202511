<?php
// Crash-test client: php crash_appender.php <client> <streams> <stop-file> <record-file>
//
// Appends Fixture\CounterIncreased(1) events, one logical append at a time, to one of <streams>
// shared streams (so clients conflict), through EventSrv\Native::append with a client-chosen
// event_id, while the test kills the daemon with SIGKILL and restarts it. Until <stop-file>
// exists. Every outcome goes to <record-file>, one line each, flushed at once:
//
//   attempt <event_id> <stream>                 before the first send of a logical append
//   acked <event_id> <stream> <version> <pos>   the daemon answered Appended
//   unknown <event_id>                          the connection broke after sending (or a storage
//                                               error): the outcome is unknown
//   resolved <event_id> present|absent          after the daemon was back, the stream was read
//   done <logical appends> <conflicts> <unknowns>
//
// Unknown outcomes are resolved by reading the stream from the region once the daemon answers
// again: if the event_id is there it landed (never resend it), otherwise resend it. Conflicts
// re-read the stream version and try again.
require_once __DIR__ . '/fixtures.php';

use EventSrv\DaemonException;
use EventSrv\DaemonUnavailableException;
use EventSrv\Native;
use EventSrv\RegionException;

/** Bound on waiting for the daemon to come back (the test restarts it far sooner). */
const DAEMON_BACK_WAIT_S = 120;
/** Daemon error codes (docs/extension.md) whose outcome is unknown: 6 ShuttingDown, 8 Storage. */
const UNKNOWN_OUTCOME_CODES = [6, 8];

[$_, $client, $streamCount, $stopFile, $recordFile] = $argv;
$client = (int) $client;
$streamCount = (int) $streamCount;
$records = fopen($recordFile, 'a');

function record($records, string $line): void
{
    fwrite($records, $line . "\n");
    fflush($records);
}

function streamId(int $index): string
{
    return sprintf('0190a7f3-0000-7000-8000-%012x', 0xc0000 + $index);
}

function eventId(int $client, int $sequence): string
{
    return sprintf('0190a7f3-%04x-7000-8000-%012x', $client, $sequence);
}

/** Wait (bounded) until the daemon answers again. */
function waitForDaemon(): void
{
    $deadline = microtime(true) + DAEMON_BACK_WAIT_S;
    while (!Native::ping()) {
        if (microtime(true) > $deadline) {
            fwrite(STDERR, "the daemon did not come back within " . DAEMON_BACK_WAIT_S . " s\n");
            exit(1);
        }
        usleep(10_000);
    }
}

/** Read from the region, retrying while the region file is being replaced. */
function readRegion(callable $read): mixed
{
    $deadline = microtime(true) + DAEMON_BACK_WAIT_S;
    for (;;) {
        try {
            return $read();
        } catch (RegionException $e) {
            if (microtime(true) > $deadline) {
                throw $e;
            }
            usleep(10_000);
        }
    }
}

/** Whether $eventId is in $stream, read once the daemon answers again. */
function landed(string $stream, string $eventId): bool
{
    waitForDaemon();
    $events = readRegion(fn () => Native::streamEvents($stream));
    foreach ($events as $event) {
        if ($event->meta()->eventId() === $eventId) {
            return true;
        }
    }
    return false;
}

mt_srand($client * 7919 + getmypid());
$sequence = 0;
$conflicts = 0;
$unknowns = 0;
while (!file_exists($stopFile)) {
    $sequence++;
    $stream = streamId(mt_rand(0, $streamCount - 1));
    $eventId = eventId($client, $sequence);
    record($records, "attempt $eventId $stream");
    for ($attempt = 0; ; $attempt++) {
        if ($attempt > 100_000) {
            fwrite(STDERR, "giving up on $eventId after $attempt attempts\n");
            exit(1);
        }
        $expected = readRegion(fn () => Native::streamVersion($stream));
        try {
            $result = Native::append(
                $stream,
                $expected,
                [new Fixture\CounterIncreased(1)],
                [['event_id' => $eventId]],
            );
        } catch (DaemonUnavailableException $e) {
            $unknowns++;
            record($records, "unknown $eventId");
            $present = landed($stream, $eventId);
            record($records, "resolved $eventId " . ($present ? 'present' : 'absent'));
            if ($present) {
                break;
            }
            continue;
        } catch (DaemonException $e) {
            if (!in_array($e->getCode(), UNKNOWN_OUTCOME_CODES, true)) {
                throw $e;
            }
            $unknowns++;
            record($records, "unknown $eventId");
            $present = landed($stream, $eventId);
            record($records, "resolved $eventId " . ($present ? 'present' : 'absent'));
            if ($present) {
                break;
            }
            continue;
        }
        if (isset($result['conflict'])) {
            $conflicts++;
            continue;
        }
        record($records, "acked $eventId $stream {$result['version']} {$result['last_position']}");
        break;
    }
}
record($records, "done $sequence $conflicts $unknowns");
echo "ok $sequence $conflicts $unknowns\n";
