<?php

/**
 * Scenario 3: durable appends from N concurrent PHP client processes (forked here), the same
 * harness for every alternative. Each client appends to its own stream; one operation is one
 * durable write of <events> events (eventsrv persist(); Redis RPUSH of <events> values; one SQL
 * transaction inserting <events> rows into stored_events). Clients start together and run for
 * <seconds>; throughput counts operations completed inside that window.
 *
 * Besides throughput and latency it measures CPU per write, the resource these 2 shared cores run
 * out of first: each client's own (getrusage, user + system, over the window) and the server's
 * (/proc/<pid>/stat ticks of the processes named by BENCH_SERVER: "pid:<pid>" or "uid:<user>";
 * none for SQLite, which runs inside the clients).
 *
 * "eventsrv-append" is a diagnostic, not an alternative: the same harness calling
 * Native::append() directly, as the Redis rows call RPUSH directly, to separate what the daemon
 * sustains from what the userland aggregate (persist()) costs on top.
 *
 *   php bench/php/appends.php <eventsrv|eventsrv-append|redis-nopersist|redis-aof|pgsql|sqlite> <clients> <events> <seconds>
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

[$alt, $clients, $events, $seconds] = [$argv[1], (int) $argv[2], (int) $argv[3], (float) $argv[4]];

/** Returns a closure doing one durable write of $events events. */
function writer(string $alt, int $client, int $events): Closure
{
    $stream = uuid_v4();
    $payload = fn (int $version) => json_encode(['amount' => 1]);
    $meta = fn (int $version) => json_encode(['correlation_id' => uuid_v4(), 'client' => $client]);
    switch ($alt) {
        case 'eventsrv':
            $aggregate = Bank\AccountAggregateRoot::create("bench client $client");
            $aggregate->persist();
            return function () use ($aggregate, $events): void {
                for ($i = 0; $i < $events; $i++) {
                    $aggregate->increaseBalance(1);
                }
                $aggregate->persist();
            };
        case 'eventsrv-append':
            // A real account stream (created first), so a projector replaying these events later
            // (the latency scenario attaches one) finds the account it increases.
            $created = EventSrv\Native::append($stream, 0, [new Bank\AccountCreated("bench client $client")], [[]]);
            $version = $created['version'];
            $event = new Bank\BalanceIncreased(1);
            return function () use ($stream, $events, &$version, $event, $client): void {
                $result = EventSrv\Native::append(
                    $stream,
                    $version,
                    array_fill(0, $events, $event),
                    array_fill(0, $events, ['correlation_id' => uuid_v4(), 'client' => $client]),
                );
                $version = $result['version'];
            };
        case 'redis-nopersist':
        case 'redis-aof':
            $redis = redis_connect($alt === 'redis-aof' ? 'aof' : 'plain');
            $version = 0;
            return function () use ($redis, $stream, $events, &$version, $payload, $meta): void {
                $values = [];
                for ($i = 0; $i < $events; $i++) {
                    $version++;
                    $values[] = json_encode(['aggregate_uuid' => $stream, 'aggregate_version' => $version,
                        'event_class' => 'Bank\\BalanceIncreased', 'event_properties' => $payload($version),
                        'meta_data' => $meta($version), 'created_at' => gmdate('Y-m-d H:i:s')]);
                }
                $redis->rPush('stored_events', ...$values);
            };
        case 'pgsql':
        case 'sqlite':
            $pdo = $alt === 'pgsql' ? pg_connect_pdo() : sqlite_connect();
            $rows = implode(', ', array_fill(0, $events, '(?, ?, ?, ?, ?, ?)'));
            $insert = $pdo->prepare("INSERT INTO stored_events (aggregate_uuid, aggregate_version, event_class, event_properties, meta_data, created_at) VALUES $rows");
            $version = 0;
            return function () use ($pdo, $insert, $stream, $events, &$version, $payload, $meta): void {
                $params = [];
                for ($i = 0; $i < $events; $i++) {
                    $version++;
                    array_push($params, $stream, $version, 'Bank\\BalanceIncreased', $payload($version), $meta($version), gmdate('Y-m-d H:i:s'));
                }
                // One statement in autocommit mode: one durable commit per operation.
                $insert->execute($params);
            };
    }
    throw new InvalidArgumentException("unknown alternative $alt");
}

/** User + system CPU of this process so far, in µs. */
function own_cpu_us(): float
{
    $usage = getrusage();
    return ($usage['ru_utime.tv_sec'] + $usage['ru_stime.tv_sec']) * 1e6
        + $usage['ru_utime.tv_usec'] + $usage['ru_stime.tv_usec'];
}

/** CPU ticks (1/100 s, Linux USER_HZ) of the server processes named by BENCH_SERVER, or null. */
function server_ticks(): ?int
{
    $spec = env_or('BENCH_SERVER');
    if ($spec === '') {
        return null;
    }
    [$kind, $value] = explode(':', $spec, 2);
    $pids = [];
    if ($kind === 'pid') {
        $pids = [(int) $value];
    } elseif ($kind === 'uid') {
        $uid = posix_getpwnam($value)['uid'] ?? -1;
        foreach (glob('/proc/[0-9]*', GLOB_ONLYDIR) ?: [] as $proc) {
            if (@fileowner($proc) === $uid) {
                $pids[] = (int) basename($proc);
            }
        }
    }
    $ticks = 0;
    foreach ($pids as $pid) {
        $stat = @file_get_contents("/proc/$pid/stat");
        if ($stat === false) {
            continue;
        }
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        $fields = explode(' ', substr($stat, strrpos($stat, ')') + 2));
        $ticks += (int) $fields[11] + (int) $fields[12];
    }
    return $ticks;
}

function sleep_until(int $hrtime): void
{
    while (($left = $hrtime - hrtime(true)) > 0) {
        time_nanosleep(intdiv($left, 1_000_000_000), $left % 1_000_000_000);
    }
}

$dir = bench_dir() . '/appends-' . getmypid();
@mkdir($dir);
$start = hrtime(true) + (int) ((0.4 + 0.03 * $clients) * 1e9);
$end = $start + (int) ($seconds * 1e9);
$children = [];
for ($c = 0; $c < $clients; $c++) {
    $pid = pcntl_fork();
    if ($pid === 0) {
        $write = writer($alt, $c, $events);
        $latencies = [];
        $inWindow = 0;
        while (hrtime(true) < $start) {
            usleep(200);
        }
        $cpuStart = own_cpu_us();
        $cpuInWindow = null;
        while (($t = hrtime(true)) < $end) {
            $write();
            $done = hrtime(true);
            $latencies[] = ($done - $t) / 1000;
            if ($done <= $end) {
                $inWindow++;
            } else {
                $cpuInWindow ??= own_cpu_us() - $cpuStart;
            }
        }
        $cpuInWindow ??= own_cpu_us() - $cpuStart;
        file_put_contents("$dir/$c", json_encode(['ops' => $inWindow, 'lat' => $latencies, 'cpu_us' => $cpuInWindow]));
        exit(0);
    }
    $children[] = $pid;
}
sleep_until($start);
$serverStart = server_ticks();
sleep_until($end);
$serverEnd = server_ticks();
$failed = 0;
foreach ($children as $pid) {
    pcntl_waitpid($pid, $status);
    $failed += pcntl_wexitstatus($status) !== 0 ? 1 : 0;
}
$ops = 0;
$clientCpuUs = 0.0;
$latencies = [];
for ($c = 0; $c < $clients; $c++) {
    $one = json_decode((string) @file_get_contents("$dir/$c"), true);
    if (!is_array($one)) {
        $failed++;
        continue;
    }
    $ops += $one['ops'];
    $clientCpuUs += $one['cpu_us'];
    array_push($latencies, ...$one['lat']);
    unlink("$dir/$c");
}
rmdir($dir);
if ($failed > 0) {
    fwrite(STDERR, "$failed of $clients clients failed\n");
}
result('appends', "$clients clients, $events event" . ($events > 1 ? 's' : '') . ' per write', $alt, [
    'clients' => $clients,
    'events_per_op' => $events,
    'ops_per_s' => $ops / $seconds,
    'events_per_s' => $ops * $events / $seconds,
    'p50_us' => percentile($latencies, 0.5),
    'p99_us' => percentile($latencies, 0.99),
    'failed_clients' => $failed,
    // CPU per write, in µs: the clients' (their whole loop; the writes that ended after the window
    // are few), and the server's over the window.
    'client_cpu_us' => $ops > 0 ? $clientCpuUs / $ops : null,
    'server_cpu_us' => $ops > 0 && $serverStart !== null ? ($serverEnd - $serverStart) * 10_000 / $ops : null,
]);
