<?php

/**
 * Shared by the bench scenarios: where the services are (environment set by bench/run.sh),
 * connections to the alternatives, the entity classes, timing helpers and result output.
 * Every scenario prints one JSON object per measured figure on STDOUT ("result" lines);
 * bench/report.py turns the lines of all runs into docs/bench.md.
 */

declare(strict_types=1);

require_once __DIR__ . '/../../examples/bank/autoload.php';

use EventSrv\Native;

/** A 5-field entity (the size the issue's memory target speaks of). */
final class BenchCustomer extends EventSrv\Entity
{
    public string $name;
    public int $balance = 0;
    public string $createdAt;
    public bool $active = true;
}

function env_or(string $name, string $default = ''): string
{
    $value = getenv($name);
    return $value === false || $value === '' ? $default : $value;
}

function bench_dir(): string
{
    return env_or('BENCH_DIR', sys_get_temp_dir());
}

function redis_connect(string $which = 'plain'): Redis
{
    $redis = new Redis();
    $socket = bench_dir() . ($which === 'aof' ? '/redis-aof.sock' : '/redis.sock');
    $redis->connect($socket);
    return $redis;
}

function sqlite_connect(): PDO
{
    $pdo = new PDO('sqlite:' . bench_dir() . '/bench.sqlite', null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    $pdo->exec('PRAGMA journal_mode=WAL');
    $pdo->exec('PRAGMA synchronous=FULL');
    $pdo->exec('PRAGMA busy_timeout=10000');
    return $pdo;
}

function pg_connect_pdo(): PDO
{
    return new PDO('pgsql:host=' . bench_dir() . '/pg;dbname=postgres;user=postgres', null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
}

function uuid_v4(): string
{
    $b = random_bytes(16);
    $b[6] = chr(ord($b[6]) & 0x0f | 0x40);
    $b[8] = chr(ord($b[8]) & 0x3f | 0x80);
    return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($b), 4));
}

function percentile(array $samples, float $p): float
{
    if ($samples === []) {
        return NAN;
    }
    sort($samples);
    return (float) $samples[(int) min(count($samples) - 1, floor($p * count($samples)))];
}

function median(array $samples): float
{
    return percentile($samples, 0.5);
}

/** One figure: scenario, case (what is compared), alternative, and its numbers. */
function result(string $scenario, string $case, string $alternative, array $numbers): void
{
    echo json_encode(['scenario' => $scenario, 'case' => $case, 'alt' => $alternative] + $numbers), "\n";
}

function note(string $text): void
{
    fwrite(STDERR, "    $text\n");
}

/** Hydrate an Account from a database row, as an ORM's simplest mapper would. */
function account_from_row(array $row): Bank\Account
{
    $account = new Bank\Account();
    $account->uuid = $row['uuid'];
    $account->name = $row['name'];
    $account->balance = (int) $row['balance'];
    return $account;
}

function customer_from_row(array $row): BenchCustomer
{
    $customer = new BenchCustomer();
    $customer->uuid = $row['uuid'];
    $customer->name = $row['name'];
    $customer->balance = (int) $row['balance'];
    $customer->createdAt = $row['created_at'];
    $customer->active = (bool) $row['active'];
    return $customer;
}
