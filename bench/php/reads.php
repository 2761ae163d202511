<?php

/**
 * Scenarios 1 and 2: reading entities into PHP objects, every alternative in this one process,
 * interleaved round by round (so a noisy neighbour hurts all alike).
 *
 *   php bench/php/reads.php <rounds> [<find batches per round>]
 *
 * find: batches of 100 lookups of random ids (the same ids for every alternative), timed per
 * batch; the figure is the median per lookup. all: whole calls, median per call.
 */

declare(strict_types=1);

require __DIR__ . '/_common.php';

use Bank\Account;

/** The cost floor of find(): one userland static call, one internal call, one new object. */
final class ReadFloor
{
    public static function find(string $uuid): ?Account
    {
        return \strlen($uuid) === 0 ? null : new Account();
    }
}

$rounds = (int) ($argv[1] ?? 5);
$findBatches = (int) ($argv[2] ?? 200);
const BATCH = 100;

$redis = redis_connect();
$sqlite = sqlite_connect();
$pg = pg_connect_pdo();

// APCu lives in this process (CLI): store the same objects the others hold.
$accounts = Account::all();
$customers = BenchCustomer::all();
$uuids = array_map(fn (Account $a) => $a->uuid, $accounts);
apcu_clear_cache();
foreach ($accounts as $a) {
    apcu_store('e:' . $a->uuid, $a);
}
apcu_store('all:accounts', $accounts);
apcu_store('all:customers', $customers);
unset($customers);
note(sprintf('%d accounts, %d customers', count($accounts), BenchCustomer::count()));

$sqliteFind = $sqlite->prepare('SELECT uuid, name, balance FROM accounts WHERE uuid = ?');
$pgFind = $pg->prepare('SELECT uuid, name, balance FROM accounts WHERE uuid = ?');

$find = [
    'eventsrv' => function (array $ids): void {
        foreach ($ids as $id) {
            $a = Account::find($id);
        }
    },
    'eventsrv Native::find' => function (array $ids): void {
        foreach ($ids as $id) {
            $a = EventSrv\Native::find(Account::class, $id);
        }
    },
    'APCu' => function (array $ids): void {
        foreach ($ids as $id) {
            $a = apcu_fetch('e:' . $id);
        }
    },
    // The limit: what PHP itself costs for the shape of Account::find() (a userland static call
    // that calls an internal function and returns a new object), with no data read at all.
    'floor: PHP static call + new Account' => function (array $ids): void {
        foreach ($ids as $id) {
            $a = ReadFloor::find($id);
        }
    },
    'Redis' => function (array $ids) use ($redis): void {
        foreach ($ids as $id) {
            $a = unserialize($redis->get('e:' . $id));
        }
    },
    'SQLite' => function (array $ids) use ($sqliteFind): void {
        foreach ($ids as $id) {
            $sqliteFind->execute([$id]);
            $a = account_from_row($sqliteFind->fetch(PDO::FETCH_ASSOC));
        }
    },
    'PostgreSQL' => function (array $ids) use ($pgFind): void {
        foreach ($ids as $id) {
            $pgFind->execute([$id]);
            $a = account_from_row($pgFind->fetch(PDO::FETCH_ASSOC));
        }
    },
];

$sqlAll = fn (PDO $pdo) => function () use ($pdo): array {
    $out = [];
    foreach ($pdo->query('SELECT uuid, name, balance FROM accounts') as $row) {
        $out[] = account_from_row($row);
    }
    return $out;
};
$all = [
    'eventsrv' => fn () => Account::all(),
    'APCu' => fn () => apcu_fetch('all:accounts'),
    'Redis' => fn () => unserialize($redis->get('all:accounts')),
    'SQLite' => $sqlAll($sqlite),
    'PostgreSQL' => $sqlAll($pg),
];

$filter = static function (array $customers): array {
    $out = [];
    foreach ($customers as $c) {
        if ($c->active && $c->balance > 50_000) {
            $out[] = $c;
        }
    }
    return $out;
};
$sqlCustomers = fn (PDO $pdo) => function () use ($pdo): array {
    $out = [];
    $q = $pdo->query('SELECT uuid, name, balance, created_at, active FROM customers');
    $q->setFetchMode(PDO::FETCH_ASSOC);
    foreach ($q as $row) {
        $out[] = customer_from_row($row);
    }
    return $out;
};
$filtered = [
    'eventsrv' => fn () => $filter(BenchCustomer::all()),
    'APCu' => fn () => $filter(apcu_fetch('all:customers')),
    'Redis' => fn () => $filter(unserialize($redis->get('all:customers'))),
    'SQLite' => fn () => $filter($sqlCustomers($sqlite)()),
    'PostgreSQL' => fn () => $filter($sqlCustomers($pg)()),
];

// Sanity: every alternative returns the same thing.
$probe = $uuids[17];
foreach ([Account::find($probe), apcu_fetch('e:' . $probe), unserialize($redis->get('e:' . $probe))] as $a) {
    if (!$a instanceof Account || $a->uuid !== $probe || $a->balance !== $accounts[17]->balance) {
        throw new RuntimeException('alternatives disagree on account ' . $probe);
    }
}
$counts = array_map(fn ($f) => count($f()), $filtered);
if (count(array_unique($counts)) !== 1) {
    throw new RuntimeException('filtered counts differ: ' . json_encode($counts));
}

$samples = ['find' => [], 'all' => [], 'filter' => []];
for ($round = 0; $round < $rounds; $round++) {
    $order = array_keys($find);
    shuffle($order);
    $batches = [];
    for ($b = 0; $b < $findBatches; $b++) {
        $pick = [];
        for ($j = 0; $j < BATCH; $j++) {
            $pick[] = $uuids[mt_rand(0, count($uuids) - 1)];
        }
        $batches[] = $pick;
    }
    foreach ($order as $alt) {
        $fn = $find[$alt];
        $fn($batches[0]); // warm
        foreach ($batches as $ids) {
            $t = hrtime(true);
            $fn($ids);
            $samples['find'][$alt][] = (hrtime(true) - $t) / BATCH / 1000;
        }
    }
    $order = array_keys($all);
    shuffle($order);
    foreach ($order as $alt) {
        $all[$alt]();
        for ($i = 0; $i < 20; $i++) {
            $t = hrtime(true);
            $list = $all[$alt]();
            $samples['all'][$alt][] = (hrtime(true) - $t) / 1000;
            unset($list);
        }
    }
    foreach ($order as $alt) {
        $t = hrtime(true);
        $list = $filtered[$alt]();
        $samples['filter'][$alt][] = (hrtime(true) - $t) / 1000;
        unset($list);
    }
}

foreach ($samples['find'] as $alt => $s) {
    result('find', 'find() by id -> object', $alt, ['us' => median($s), 'p90_us' => percentile($s, 0.9), 'n' => count($s) * BATCH]);
}
foreach ($samples['all'] as $alt => $s) {
    result('all', 'all() 1,000 objects', $alt, ['us' => median($s), 'p90_us' => percentile($s, 0.9), 'n' => count($s)]);
}
foreach ($samples['filter'] as $alt => $s) {
    result('filter', 'all() 100,000 objects + filter in PHP', $alt, ['us' => median($s), 'n' => count($s), 'matches' => $counts[$alt]]);
}
