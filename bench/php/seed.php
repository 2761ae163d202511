<?php

/**
 * Seeds the same data into eventsrv and every alternative, once per bench run:
 *   - <accounts> Bank\Account entities (3 fields) and <customers> BenchCustomer entities
 *     (5 fields), written to the region with projector commits (Native::commit, no events);
 *   - the same rows in Redis (one key per entity + one key holding the whole list), SQLite and
 *     PostgreSQL (tables accounts, customers), and the empty stored_events tables.
 * Also measures scenario 6 (region bytes per entity vs. its encoded payload).
 *
 *   php bench/php/seed.php <accounts> <customers>
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

use EventSrv\Native;

$accountCount = (int) ($argv[1] ?? 1000);
$customerCount = (int) ($argv[2] ?? 100_000);
const COMMIT_CHUNK = 5000;

function region_used(): array
{
    $status = Native::status();
    return [(int) $status['region']['used_bytes'], (int) $status['region']['garbage_bytes']];
}

/** @return list<Bank\Account> */
function make_accounts(int $n): array
{
    $out = [];
    for ($i = 0; $i < $n; $i++) {
        $a = new Bank\Account();
        $a->uuid = uuid_v4();
        $a->name = "Account holder $i";
        $a->balance = mt_rand(0, 100_000);
        $out[] = $a;
    }
    return $out;
}

/** @return list<BenchCustomer> */
function make_customers(int $n): array
{
    $out = [];
    $t = 1_760_000_000;
    for ($i = 0; $i < $n; $i++) {
        $c = new BenchCustomer();
        $c->uuid = uuid_v4();
        $c->name = "Customer number $i";
        $c->balance = mt_rand(0, 100_000);
        $c->createdAt = gmdate('Y-m-d\TH:i:s\Z', $t + $i);
        $c->active = $i % 3 !== 0;
        $out[] = $c;
    }
    return $out;
}

function commit_entities(array $entities): void
{
    foreach (array_chunk($entities, COMMIT_CHUNK) as $chunk) {
        $changes = [];
        foreach ($chunk as $e) {
            $changes[] = ['upsert', $e::class, $e->uuid, $e, 0];
        }
        Native::commit($changes, [], null);
    }
}

mt_srand(42);
$accounts = make_accounts($accountCount);
$customers = make_customers($customerCount);

// --- eventsrv (and scenario 6: region bytes per entity)
[$used0, $garbage0] = region_used();
commit_entities($accounts);
[$used1, $garbage1] = region_used();
commit_entities($customers);
[$used2, $garbage2] = region_used();
foreach ([['Bank\\Account (3 fields)', $accounts, $used1 - $used0, $garbage1 - $garbage0],
          ['BenchCustomer (5 fields)', $customers, $used2 - $used1, $garbage2 - $garbage1]] as [$label, $list, $used, $garbage]) {
    $payload = 0;
    foreach ($list as $e) {
        $payload += strlen(Native::encode(get_object_vars($e)));
    }
    $n = count($list);
    result('memory', $label, 'eventsrv', [
        'entities' => $n,
        'payload_bytes' => $payload / $n,
        'region_bytes' => $used / $n,
        'region_live_bytes' => ($used - $garbage) / $n,
        'uuid_bytes' => strlen($list[0]->uuid),
    ]);
}
if (Native::count(Bank\Account::class) !== $accountCount || Native::count(BenchCustomer::class) !== $customerCount) {
    throw new RuntimeException('seeding eventsrv failed: counts differ');
}

// --- Redis (persistence off instance): per-entity keys and one key with the whole list
$redis = redis_connect();
$redis->flushAll();
foreach ([$accounts, $customers] as $list) {
    foreach (array_chunk($list, 1000) as $chunk) {
        $pipe = $redis->multi(Redis::PIPELINE);
        foreach ($chunk as $e) {
            $pipe->set('e:' . $e->uuid, serialize($e));
        }
        $pipe->exec();
    }
}
$redis->set('all:accounts', serialize($accounts));
$redis->set('all:customers', serialize($customers));

// --- SQL databases
$schemas = [
    'sqlite' => [
        'CREATE TABLE accounts (uuid TEXT PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)',
        'CREATE TABLE customers (uuid TEXT PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL, created_at TEXT NOT NULL, active INTEGER NOT NULL)',
        // spatie/laravel-event-sourcing's stored_events migration, in SQLite types
        'CREATE TABLE stored_events (id INTEGER PRIMARY KEY AUTOINCREMENT, aggregate_uuid TEXT NULL, aggregate_version INTEGER NULL, '
            . 'event_version INTEGER NOT NULL DEFAULT 1, event_class TEXT NOT NULL, event_properties TEXT NOT NULL, meta_data TEXT NOT NULL, '
            . 'created_at TEXT NOT NULL, UNIQUE (aggregate_uuid, aggregate_version))',
        'CREATE INDEX stored_events_event_class ON stored_events (event_class)',
        'CREATE INDEX stored_events_aggregate_uuid ON stored_events (aggregate_uuid)',
    ],
    'pgsql' => [
        'DROP TABLE IF EXISTS accounts, customers, stored_events',
        'CREATE TABLE accounts (uuid text PRIMARY KEY, name text NOT NULL, balance bigint NOT NULL)',
        'CREATE TABLE customers (uuid text PRIMARY KEY, name text NOT NULL, balance bigint NOT NULL, created_at text NOT NULL, active boolean NOT NULL)',
        // spatie/laravel-event-sourcing's stored_events migration (PostgreSQL types)
        'CREATE TABLE stored_events (id bigserial PRIMARY KEY, aggregate_uuid uuid NULL, aggregate_version bigint NULL, '
            . 'event_version smallint NOT NULL DEFAULT 1, event_class varchar(255) NOT NULL, event_properties jsonb NOT NULL, meta_data jsonb NOT NULL, '
            . 'created_at timestamp(0) NOT NULL, UNIQUE (aggregate_uuid, aggregate_version))',
        'CREATE INDEX stored_events_event_class ON stored_events (event_class)',
        'CREATE INDEX stored_events_aggregate_uuid ON stored_events (aggregate_uuid)',
    ],
];
@unlink(bench_dir() . '/bench.sqlite');
foreach (['sqlite' => sqlite_connect(), 'pgsql' => pg_connect_pdo()] as $driver => $pdo) {
    foreach ($schemas[$driver] as $sql) {
        $pdo->exec($sql);
    }
    $pdo->beginTransaction();
    $insert = $pdo->prepare('INSERT INTO accounts (uuid, name, balance) VALUES (?, ?, ?)');
    foreach ($accounts as $a) {
        $insert->execute([$a->uuid, $a->name, $a->balance]);
    }
    $insert = $pdo->prepare('INSERT INTO customers (uuid, name, balance, created_at, active) VALUES (?, ?, ?, ?, ?)');
    foreach ($customers as $c) {
        $insert->bindValue(1, $c->uuid);
        $insert->bindValue(2, $c->name);
        $insert->bindValue(3, $c->balance, PDO::PARAM_INT);
        $insert->bindValue(4, $c->createdAt);
        $insert->bindValue(5, $c->active, PDO::PARAM_BOOL);
        $insert->execute();
    }
    $pdo->commit();
    if ($driver === 'pgsql') {
        $pdo->exec('VACUUM ANALYZE');
    }
}
note("seeded $accountCount accounts and $customerCount customers");
