<?php
// Errors a PHP developer meets before anything works: region missing / not a region / other
// layout, daemon not running, plus ini handling. Needs no daemon.

declare(strict_types=1);

require __DIR__ . '/_harness.php';

use EventSrv\DaemonUnavailableException;
use EventSrv\Native;
use EventSrv\RegionException;
use EventSrv\RegionLayoutMismatchException;

$dir = sys_get_temp_dir() . '/eventsrv-ext-errors-' . getmypid();
@mkdir($dir);

// --- ini defaults and call-time reading
same('default socket', '/run/eventsrv/eventsrv.sock', ini_get('eventsrv.socket'));
same('default region', '/dev/shm/eventsrv.region', ini_get('eventsrv.region'));
same('default persist wait', '1000', ini_get('eventsrv.persist_wait_ms'));
same('default connect timeout', '1000', ini_get('eventsrv.connect_timeout_ms'));
same('default io timeout', '10000', ini_get('eventsrv.io_timeout_ms'));

// --- region missing
$missing = "$dir/no-such.region";
ini_set('eventsrv.region', $missing);
throws('missing region names path and ini setting', RegionException::class, [$missing, 'No such file or directory', 'eventsrv.region', 'eventsrv serve'], fn () => Native::find('App\\Account', 'x'));
throws('every read maps first', RegionException::class, [$missing], fn () => Native::positions());
throws('waits too', RegionException::class, [$missing], fn () => Native::waitForEvents(0, 10));

// --- not a region
$garbage = "$dir/garbage.region";
file_put_contents($garbage, str_repeat("\0", 8192));
ini_set('eventsrv.region', $garbage);
throws('zero file is not a region', RegionException::class, [$garbage, 'not an eventsrv state region'], fn () => Native::count('A'));
file_put_contents("$dir/small.region", 'EVSRVRGN');
ini_set('eventsrv.region', "$dir/small.region");
throws('too small file', RegionException::class, ['small.region', 'smaller than'], fn () => Native::count('A'));

// --- other layout version
$other = "$dir/other.region";
file_put_contents($other, 'EVSRVRGN' . pack('V', 99) . pack('V', 4096) . pack('P', 8192) . str_repeat("\0", 8192 - 24));
ini_set('eventsrv.region', $other);
throws('layout mismatch has its own class', RegionLayoutMismatchException::class, [$other, 'layout version 99', 'layout version 2'], fn () => Native::all('A'));

// --- daemon missing
$sock = "$dir/no-daemon.sock";
ini_set('eventsrv.socket', $sock);
ini_set('eventsrv.connect_timeout_ms', '200');
throws('daemon missing names the socket', DaemonUnavailableException::class, [
    "cannot reach the eventsrv daemon at $sock (No such file or directory): is `eventsrv serve` running? The socket path comes from the ini setting eventsrv.socket",
], fn () => Native::append('s-1', 0, [], []));
check('connection state shows the last error', str_contains(Native::connectionState(), $sock));
same('ping is false without a daemon', false, Native::ping());
throws('status without daemon', DaemonUnavailableException::class, ['cannot reach'], fn () => Native::status());
throws('commit without daemon', DaemonUnavailableException::class, ['cannot reach'], fn () => Native::commit([['reset', 'A']], [], null));

// a socket path that is a plain file: connection refused
touch("$dir/plain");
ini_set('eventsrv.socket', "$dir/plain");
throws('refused connection', DaemonUnavailableException::class, ["$dir/plain", 'Connection refused'], fn () => Native::attachWorker());

// a listening socket that never answers: the io timeout bounds the greeting
$server = @stream_socket_server("unix://$dir/silent.sock");
if ($server !== false) {
    ini_set('eventsrv.socket', "$dir/silent.sock");
    ini_set('eventsrv.io_timeout_ms', '150');
    $t = microtime(true);
    throws('silent daemon times out', DaemonUnavailableException::class, ["$dir/silent.sock"], fn () => Native::ping() ?: Native::status());
    check('timeout is bounded', microtime(true) - $t < 5.0);
    fclose($server);
}

// --- argument checks happen before anything is sent
throws('bad expected version', \InvalidArgumentException::class, ['expected version -5'], fn () => Native::append('s', -5, [], []));
throws('bad change', \InvalidArgumentException::class, ["changes[0]", "unknown operation 'frobnicate'"], fn () => Native::commit([['frobnicate', 'A']], [], null));
throws('non-object event', \InvalidArgumentException::class, ['events[0] is not an object'], fn () => Native::append('s', 0, ['nope'], [[]]));
throws('bad explicit event id', \InvalidArgumentException::class, ["metadata[0]['event_id'] is not a uuid"], fn () => Native::append('s', 0, [new stdClass()], [['event_id' => 'zzz']]));
throws('serialization checked before connecting', \EventSrv\SerializationException::class, ['Closure'], function () {
    $e = new stdClass();
    $e->cb = fn () => 1;
    Native::append('s', 0, [$e], [[]]);
});
throws('frame too large, nothing sent', \EventSrv\FrameTooLargeException::class, ['8 MiB', 'nothing was sent'], function () {
    $e = new stdClass();
    $e->blob = str_repeat('x', 9 * 1024 * 1024);
    Native::append('s', 0, [$e], [[]]);
});

// --- exception classes missing: RuntimeException with the class name in front
// (covered in no_userland.php, which runs without the stand-in classes)

array_map('unlink', glob("$dir/*"));
rmdir($dir);
done();
