<?php
// Hydration semantics the read hot path must keep (it writes declared property slots directly
// when no coercion is needed): typed-property coercion, TypeErrors, readonly initialisation and
// modification, defaults replaced (refcounted ones released), constant-expression defaults,
// __set never called, parent private properties, stdClass, property order changes between
// objects of one class, and the same through Native::decode() and region reads (find/all)
// across requests' class cache. Region reads need the daemon (EVENTSRV_BIN).

declare(strict_types=1);

require __DIR__ . '/_harness.php';

use EventSrv\Native;

final class Typed
{
    public const DEFAULT_LABEL = 'from-constant';
    public float $ratio = 1.5;
    public ?int $maybe = 7;
    public string $label = self::DEFAULT_LABEL;
    public int|string $either = 0;
    public array $tags = ['x'];
    public bool $flag = false;
    public $untyped = 'untyped-default';
    public readonly string $frozen;
    public static int $setCalls = 0;

    public function __set(string $name, mixed $value): void
    {
        self::$setCalls++;
    }

    public function freeze(string $again): void
    {
        $this->frozen = $again;
    }
}

class Base
{
    private string $secret = 'base-default';

    public function secret(): string
    {
        return $this->secret;
    }
}

final class Child extends Base
{
    public int $n = 0;
}

/** Encode a plain map of properties as a stored object of $class. */
function stored(string $class, array $props): string
{
    $o = new stdClass();
    foreach ($props as $k => $v) {
        $o->$k = $v;
    }
    // Native::encode of a stdClass gives an object tree; swap the class name for $class.
    $bytes = Native::encode($o);
    $old = pack('V', strlen('stdClass')) . 'stdClass';
    return substr_replace($bytes, pack('V', strlen($class)) . $class, strpos($bytes, $old), strlen($old));
}

// --- decode(): slots written directly vs through the engine
$t = Native::decode(stored(Typed::class, ['ratio' => 3, 'maybe' => null, 'label' => 'abc', 'either' => 'str',
    'tags' => ['a', 'b'], 'flag' => true, 'untyped' => [1, 2], 'frozen' => 'ice']));
same('int into float property is coerced', 3.0, $t->ratio);
same('null into ?int', null, $t->maybe);
same('string replaces a constant-expression default', 'abc', $t->label);
same('union type takes a string', 'str', $t->either);
same('array replaces a default array', ['a', 'b'], $t->tags);
same('bool', true, $t->flag);
same('untyped takes anything', [1, 2], $t->untyped);
same('readonly initialised', 'ice', $t->frozen);
same('__set never called', 0, Typed::$setCalls);
throws('readonly stays readonly after hydration', \Error::class, ['readonly'], fn () => $t->freeze('again'));
$d = Native::decode(stored(Typed::class, ['flag' => true]));
same('constant-expression default resolved when not stored', 'from-constant', $d->label);
same('default kept when not stored', 1.5, $d->ratio);
check('readonly not stored stays uninitialised', !(new ReflectionProperty(Typed::class, 'frozen'))->isInitialized($d));
throws('string into int property is a TypeError', \TypeError::class, ['maybe'], fn () => Native::decode(stored(Typed::class, ['maybe' => 'seven'])));
throws('string into float property is a TypeError', \TypeError::class, ['ratio'], fn () => Native::decode(stored(Typed::class, ['ratio' => 'x'])));
throws('readonly stored twice is an error', \Error::class, ['readonly'],
    fn () => Native::decode(str_replace('xrozen', 'frozen', stored(Typed::class, ['frozen' => 'a', 'xrozen' => 'b']))));
$c = Native::decode(stored(Child::class, ['n' => 5, 'secret' => 'stored-secret']));
same('own property', 5, $c->n);
$s = Native::decode(stored(stdClass::class, ['a' => 1, 'b' => 'two']));
same('stdClass gets dynamic properties', ['a' => 1, 'b' => 'two'], get_object_vars($s));

// refcounted values: a shared string is not freed under another holder
$shared = str_repeat('s', 40);
$t1 = Native::decode(stored(Typed::class, ['label' => $shared, 'untyped' => $shared]));
$t2 = Native::decode(stored(Typed::class, ['label' => $shared, 'untyped' => $shared]));
$t1->label .= '!';
same('values independent after write', $shared, $t2->label);
unset($t1);
same('survivor intact', $shared, $t2->untyped);

// --- region reads: find()/all() use per-request class cache and property plans
$bin = getenv('EVENTSRV_BIN');
if ($bin === false || !is_executable($bin)) {
    echo "skip region part (no EVENTSRV_BIN)\n";
    done();
}
$dir = sys_get_temp_dir() . '/eventsrv-ext-hydrate-' . getmypid();
@mkdir($dir);
$sock = "$dir/s.sock";
$region = "$dir/r.region";
ini_set('eventsrv.socket', $sock);
ini_set('eventsrv.region', $region);
$proc = proc_open([$bin, 'serve', '--data-dir', "$dir/data", '--socket', $sock, '--region', $region, '--region-size', '16MiB'],
    [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/log", 'a'], 2 => ['file', "$dir/log", 'a']], $pipes);
register_shutdown_function(function () use ($proc, $dir): void {
    proc_terminate($proc, 15);
    proc_close($proc);
    exec('rm -rf ' . escapeshellarg($dir));
});
for ($i = 0; $i < 200 && !(file_exists($sock) && Native::ping()); $i++) {
    usleep(25_000);
}

$a = new Typed();
$a->freeze('one');
$a->ratio = 2.0;
$a->label = 'first';
$b = new Typed();
$b->freeze('two');
$b->maybe = null;
// Commit stores a map of initialized public properties; order is declaration order, so to
// exercise a plan miss store one entity through a stdClass with another order and names.
$odd = new stdClass();
$odd->frozen = 'three';
$odd->label = 'odd order';
$odd->ratio = 4;
$odd->unknown = 'skipped';
Native::commit([
    ['upsert', Typed::class, 'a', $a, 0],
    ['upsert', Typed::class, 'b', $b, 0],
    ['upsert', Typed::class, 'odd', $odd, 0],
], [], null);
$fa = Native::find(Typed::class, 'a');
same('find: readonly set', 'one', $fa->frozen);
same('find: float stays float', 2.0, $fa->ratio);
same('find: string', 'first', $fa->label);
throws('find: readonly stays readonly', \Error::class, ['readonly'], fn () => $fa->freeze('x'));
same('find: null into ?int', null, Native::find(Typed::class, 'b')->maybe);
$fo = Native::find(Typed::class, 'odd');
same('find: other property order, int coerced to float', [4.0, 'odd order', 'three', 7], [$fo->ratio, $fo->label, $fo->frozen, $fo->maybe]);
check('find: undeclared stored property skipped', !property_exists($fo, 'unknown') && Typed::$setCalls === 0);
same('all: every object right after plan misses', ['one', 'two', 'three'], array_map(fn ($t) => $t->frozen, Native::all(Typed::class)));
same('find again after all (cached class)', 'first', Native::find('\\Typed', 'a')->label);
same('class name case differs: region key is exact', null, Native::find('typed', 'a'));
same('count through the cache', 3, Native::count(Typed::class));
same('unknown class still null', null, Native::find('NoSuch', 'a'));

// a class that only appears later in the same request is found then
$late = new Child();
$late->n = 9;
Native::commit([['upsert', Child::class, 'c', $late, 0]], [], null);
same('class created after a miss in the same request', 9, Native::find(Child::class, 'c')?->n);

// a stored value a typed property no longer accepts surfaces as TypeError from find()
$bad = new stdClass();
$bad->maybe = 'not an int';
Native::commit([['upsert', Typed::class, 'bad', $bad, 0]], [], null);
throws('find: TypeError surfaces', \TypeError::class, ['maybe'], fn () => Native::find(Typed::class, 'bad'));
same('find after a TypeError still works', 'one', Native::find(Typed::class, 'a')->frozen);

done();
