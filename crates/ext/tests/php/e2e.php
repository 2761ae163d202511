<?php
// End to end against a real daemon: starts `eventsrv serve` (EVENTSRV_BIN) in a temp dir,
// appends events, commits entities, reads them back, waits, conflicts, and a daemon restart.

declare(strict_types=1);

require __DIR__ . '/_harness.php';

use EventSrv\Native;

enum Currency: string
{
    case EUR = 'EUR';
    case USD = 'USD';
}

final class MoneyDeposited extends EventSrv\Event
{
    public function __construct(
        public readonly int $amount,
        public readonly Currency $currency,
        public readonly \DateTimeImmutable $at,
        public ?string $note = null,
    ) {
    }
}

final class AccountOpened extends EventSrv\Event
{
    public static int $instances = 0;
    private string $internal = 'not stored';

    public function __construct(public string $owner = '')
    {
        self::$instances++;
    }
}

class Account
{
    public string $uuid = '';
    public int $balance = 0;
    public array $history = [];
    public ?Currency $currency = null;
    private string $cache = 'private stays out';
}

$bin = getenv('EVENTSRV_BIN') ?: dirname(__DIR__, 4) . '/target/debug/eventsrv';
$ext = ini_get('extension') ?: '';
$dir = sys_get_temp_dir() . '/eventsrv-ext-e2e-' . getmypid();
@mkdir($dir);
$sock = "$dir/eventsrv.sock";
$region = "$dir/eventsrv.region";
ini_set('eventsrv.socket', $sock);
ini_set('eventsrv.region', $region);

function start_daemon(string $bin, string $dir, string $sock, string $region)
{
    $proc = proc_open(
        [$bin, 'serve', '--data-dir', "$dir/data", '--socket', $sock, '--region', $region, '--region-size', '64MiB'],
        [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/daemon.log", 'a'], 2 => ['file', "$dir/daemon.log", 'a']],
        $pipes
    );
    for ($i = 0; $i < 200; $i++) {
        if (file_exists($sock) && Native::ping()) {
            return $proc;
        }
        usleep(25_000);
    }
    echo file_get_contents("$dir/daemon.log");
    throw new RuntimeException('daemon did not start');
}

function stop_daemon($proc): void
{
    proc_terminate($proc, 15);
    for ($i = 0; $i < 200 && proc_get_status($proc)['running']; $i++) {
        usleep(25_000);
    }
    proc_close($proc);
}

/** Run PHP code in a child process with the same extension and ini. */
function child(string $code): string
{
    global $sock, $region;
    $cmd = [PHP_BINARY, '-n', '-d', 'extension=' . $GLOBALS['extPath'], '-d', "eventsrv.socket=$sock", '-d', "eventsrv.region=$region", '-r', $code];
    $proc = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    proc_close($proc);
    return $out;
}
$GLOBALS['extPath'] = getenv('EXT_PATH') ?: '';

$daemon = start_daemon($bin, $dir, $sock, $region);
// Never leave a daemon behind, whatever happens below (fatal errors included).
register_shutdown_function(function () use (&$daemon, $dir): void {
    if (is_resource($daemon) && proc_get_status($daemon)['running']) {
        stop_daemon($daemon);
    }
    exec('rm -rf ' . escapeshellarg($dir));
});
check('ping', Native::ping());
check('connected', str_starts_with(Native::connectionState(), "connected to $sock"));
$p = Native::positions();
same('fresh region positions', [0, 0, 'live'], [$p['committed'], $p['projected'], $p['state']]);
check('daemon pid in positions', $p['daemon_pid'] > 0 && $p['generation'] > 0);

// --- append
$at = new DateTimeImmutable('2026-01-02 03:04:05.678901', new DateTimeZone('-03:00'));
Native::registerEventTypes([AccountOpened::class => 'account.opened']);
AccountOpened::$instances = 0;
$r = Native::append('acc-1', 0, [new AccountOpened('ada'), new MoneyDeposited(100, Currency::EUR, $at, 'first')], [['user' => 7], []]);
same('append result', ['first_position' => 1, 'last_position' => 2, 'version' => 2, 'workers' => 0], $r);
$fixedId = '0190f3c4-1111-7222-8333-444455556666';
$r = Native::append('acc-1', 2, [new MoneyDeposited(5, Currency::USD, $at)], [['event_id' => strtoupper($fixedId)]]);
same('second append', ['first_position' => 3, 'last_position' => 3, 'version' => 3, 'workers' => 0], $r);
$r = Native::append('acc-1', 1, [new MoneyDeposited(1, Currency::USD, $at)], [[]]);
same('version conflict returned', ['conflict' => true, 'expected' => 1, 'actual' => 3], $r);
$r = Native::append('acc-1', -1, [new MoneyDeposited(2, Currency::USD, $at)], [[]]);
same('-1 skips the check', ['first_position' => 4, 'last_position' => 4, 'version' => 4, 'workers' => 0], $r);
$r = Native::append('acc-2', 0, [new AccountOpened('bob')], [[]]);
same('other stream', 5, $r['last_position']);

same('streamVersion', 4, Native::streamVersion('acc-1'));
same('streamVersion unknown', 0, Native::streamVersion('nope'));

// --- read events
AccountOpened::$instances = 0;
$events = Native::streamEvents('acc-1');
same('stream events count', 4, count($events));
same('constructors not called', 0, AccountOpened::$instances);
check('alias resolved to class', $events[0] instanceof AccountOpened && $events[0]->owner === 'ada');
$m = $events[0]->meta();
same('meta keys', ['position', 'stream', 'version', 'recorded_at_us', 'event_id', 'type', 'metadata'], array_keys($m));
same('meta values', [1, 'acc-1', 1, 'account.opened', ['user' => 7]], [$m['position'], $m['stream'], $m['version'], $m['type'], $m['metadata']]);
check('event id is uuid v7 text', (bool) preg_match('/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $m['event_id']), $m['event_id']);
check('recorded_at_us is recent', abs($m['recorded_at_us'] - (int) (microtime(true) * 1e6)) < 60_000_000);
$dep = $events[1];
check('readonly payload', $dep instanceof MoneyDeposited && $dep->amount === 100 && $dep->currency === Currency::EUR && $dep->note === 'first');
same('date payload', '2026-01-02T03:04:05.678901-03:00', $dep->at->format('Y-m-d\TH:i:s.uP'));
same('explicit event id kept', $fixedId, $events[2]->meta()['event_id']);
check('private props not in payload', !str_contains(Native::encode([]) . json_encode($events[0]), 'not stored'));
same('streamEvents after version', [3, 4], array_map(fn ($e) => $e->meta()['version'], Native::streamEvents('acc-1', 2)));
same('eventsAfter', [2, 3], array_map(fn ($e) => $e->meta()['position'], Native::eventsAfter(1, 2)));
same('eventsAfter the end', [], Native::eventsAfter(5, 10));
same('eventsAfter all', 5, count(Native::eventsAfter(0, 100000)));

// an event type with no alias and no class
$out = child('require "' . __DIR__ . '/_harness.php"; ' .
    'class Ghost extends EventSrv\Event { public int $x = 1; } var_export(EventSrv\Native::append("ghosts", 0, [new Ghost()], [[]]));');
check('child appended', str_contains($out, "'last_position' => 6"), $out);
throws('unknown event type', EventSrv\UnknownEventTypeException::class, ['Ghost', 'stream ghosts', 'version 1', 'position 6'], fn () => Native::eventsAfter(5, 1));

// --- waits
$t = microtime(true);
same('waitForEvents times out with the committed position', 6, Native::waitForEvents(6, 100));
check('waited about the timeout', microtime(true) - $t >= 0.09);
same('waitForEvents returns at once when already past', 6, Native::waitForEvents(3, 5000));
$bg = proc_open([PHP_BINARY, '-n', '-d', 'extension=' . getenv('EXT_PATH'), '-d', "eventsrv.socket=$sock", '-r',
    'usleep(200000); EventSrv\Native::append("late", 0, [new stdClass()], [[]]);'], [], $pipes);
$t = microtime(true);
$pos = Native::waitForEvents(6, 10_000);
$waited = microtime(true) - $t;
proc_close($bg);
same('woken by a commit from another process', 7, $pos);
check('woken early, not at the timeout', $waited < 5.0, "waited $waited s");

// --- projector commit
$acc = new Account();
$acc->uuid = 'u-1';
$acc->balance = 105;
$acc->history = [['dep', 100], ['dep', 5]];
$acc->currency = Currency::EUR;
$acc2 = new Account();
$acc2->uuid = 'u-2';
$r = Native::commit([['upsert', Account::class, 'u-1', $acc, 3], ['upsert', '\\Account', 'u-2', $acc2, 5]], [['accounts', 0, 5]], 5);
check('commit result', isset($r['position']), json_encode($r));
same('checkpoint', 5, Native::checkpoint('accounts'));
same('unknown checkpoint', 0, Native::checkpoint('nope'));
same('checkpoints', ['accounts' => 5], Native::checkpoints());
$found = Native::find(Account::class, 'u-1');
check('find', $found instanceof Account && $found->balance === 105 && $found->currency === Currency::EUR && $found->history === [['dep', 100], ['dep', 5]]);
same('find with leading backslash', 'u-2', Native::find('\\Account', 'u-2')?->uuid);
same('find missing', null, Native::find(Account::class, 'u-404'));
same('find unknown class', null, Native::find('NoSuchEntity', 'x'));
same('all in insertion order', ['u-1', 'u-2'], array_map(fn ($a) => $a->uuid, Native::all(Account::class)));
same('count', 2, Native::count(Account::class));
same('all unknown class', [], Native::all('NoSuchEntity'));
check('waitForProjection reached', Native::waitForProjection(5, 100));
check('waitForProjection not reached', !Native::waitForProjection(50, 50));
$r = Native::commit([], [['accounts', 0, 6]], null);
same('checkpoint conflict', ['checkpoint_conflict' => true, 'name' => 'accounts', 'expected' => 0, 'actual' => 5], $r);
$acc->balance = 1;
Native::commit([['upsert', Account::class, 'u-1', $acc, 6], ['delete', Account::class, 'u-2']], [['accounts', 5, 6]], 6);
same('update seen', 1, Native::find(Account::class, 'u-1')->balance);
same('delete seen', null, Native::find(Account::class, 'u-2'));
same('count after delete', 1, Native::count(Account::class));
Native::commit([['reset', Account::class]], [], null);
same('reset empties the class', [], Native::all(Account::class));

// --- status, worker
$status = Native::status();
check('status is an array', is_array($status) && $status !== [], json_encode($status));
Native::attachWorker();
same('worker attached', 1, Native::positions()['workers']);
check('connection state mentions worker', str_contains(Native::connectionState(), 'worker'));

// --- restart: the daemon adopts the surviving region (same file, same generation) and the
// connection is closed; reads go on and the append reconnects
$gen = Native::positions()['generation'];
stop_daemon($daemon);
$daemon = start_daemon($bin, $dir, $sock, $region);
$p = Native::positions();
check('surviving region adopted', $p['generation'] === $gen && $p['state'] === 'live', json_encode($p));
same('events kept', 7, $p['committed']);

// --- restart without the region file: the daemon builds a new one; this process (one long
// request, like the worker) must find it although nobody could mark the removed file superseded
stop_daemon($daemon);
unlink($region);
$daemon = start_daemon($bin, $dir, $sock, $region);
$p = Native::positions();
check('remapped the rebuilt region', $p['generation'] !== $gen && $p['state'] === 'live', json_encode($p));
same('events rebuilt', 7, $p['committed']);
$r = Native::append('acc-1', 4, [new MoneyDeposited(9, Currency::EUR, $at)], [[]]);
same('append after restart reconnects', 8, $r['last_position'] ?? null);
same('worker re-attached after reconnect', 1, Native::positions()['workers']);
// one metadata array given for several events in a row is encoded once: each still gets it
$shared = ['user' => 8, 'tags' => ['a']];
$r = Native::append('acc-3', 0, [new AccountOpened('cy'), new MoneyDeposited(1, Currency::EUR, $at), new MoneyDeposited(2, Currency::EUR, $at), new MoneyDeposited(3, Currency::EUR, $at)], [$shared, $shared, ['user' => 9], $shared]);
same('shared metadata stored per event', [$shared, $shared, ['user' => 9], $shared], array_map(fn ($e) => $e->meta()['metadata'], Native::streamEvents('acc-3')));
stop_daemon($daemon);
$daemon = null;
throws('daemon gone', EventSrv\DaemonUnavailableException::class, [$sock], fn () => Native::append('x', 0, [new stdClass()], [[]]));
same('region still readable after the daemon stopped', 12, Native::positions()['committed']);

done();
