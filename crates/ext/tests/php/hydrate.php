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

/** Has a constructor that must not run when read back. */
final class Constructed
{
    public static int $constructed = 0;
    public string $name = 'default';
    public int $count;

    public function __construct()
    {
        self::$constructed++;
        $this->name = 'set by constructor';
    }
}

/** Typed properties with and without defaults, nested values. */
final class Shaped
{
    public int $kept = 1;
    public int $noDefault;
    public ?string $nullable = 'x';
    public float $ratio = 0.0;
    public array $list = [];
    public ?Shaped $inner = null;
    public ?\DateTimeImmutable $at = null;
}

/** Names of equal length that differ in one middle byte (the plan compares names word-wise). */
final class Twins
{
    public int $abcXefg = 0;
    public int $abcYefg = 0;
    public int $twelve_Xbyte = 0;
    public int $twelve_Ybyte = 0;
    public int $a_longer_name_X_than_sixteen = 0;
    public int $a_longer_name_Y_than_sixteen = 0;
}

/** Stored as Shaped, read back after the class changed shape (as a renamed class here). */
final class ShapedLater
{
    public string $added = 'new default';
    public string $kept = 'now a string';
    public int $noDefault;
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

// --- the stored-map loop (region reads): every kind of value, and what must still fail
function store(string $class, string $uuid, array $props): void
{
    $o = new stdClass();
    foreach ($props as $k => $v) {
        $o->$k = $v;
    }
    Native::commit([['upsert', $class, $uuid, $o, 0]], [], null);
}

store(Constructed::class, 'k', ['count' => 3]);
$k = Native::find(Constructed::class, 'k');
same('map: constructor not called', [0, 'default', 3], [Constructed::$constructed, $k->name, $k->count]);

$long = str_repeat('long string with a NUL ' . "\0", 20);
$inner = new Shaped();
$inner->noDefault = 2;
store(Shaped::class, 's', ['kept' => 5, 'noDefault' => 6, 'nullable' => '', 'ratio' => 0.25, 'list' => [1, 'two', ['three' => 3]],
    'inner' => $inner, 'at' => new DateTimeImmutable('2026-01-02 03:04:05.678901+00:00')]);
$sh = Native::find(Shaped::class, 's');
same('map: ints, empty string, float', [5, 6, '', 0.25], [$sh->kept, $sh->noDefault, $sh->nullable, $sh->ratio]);
same('map: nested array', [1, 'two', ['three' => 3]], $sh->list);
same('map: nested object', 2, $sh->inner?->noDefault);
same('map: date', '2026-01-02 03:04:05.678901', $sh->at?->format('Y-m-d H:i:s.u'));
store(Shaped::class, 'str', ['nullable' => $long, 'noDefault' => 1]);
$one = Native::find(Shaped::class, 'str');
$two = Native::find(Shaped::class, 'str');
same('map: long binary string intact', $long, $one->nullable);
$one->nullable .= '!';
same('map: strings of two reads are independent', $long, $two->nullable);
store(Shaped::class, 'partial', ['kept' => 9]);
check('map: typed property without default and not stored stays uninitialised',
    !(new ReflectionProperty(Shaped::class, 'noDefault'))->isInitialized(Native::find(Shaped::class, 'partial')));
store(Shaped::class, 'nulls', ['nullable' => null, 'noDefault' => 0, 'inner' => null]);
same('map: null into nullable', [null, null], [Native::find(Shaped::class, 'nulls')->nullable, Native::find(Shaped::class, 'nulls')->inner]);
store(Shaped::class, 'coerced', ['ratio' => 4, 'noDefault' => 0]);
same('map: int into float coerced', 4.0, Native::find(Shaped::class, 'coerced')->ratio);
foreach ([['noDefault', 'six'], ['kept', 'abc'], ['kept', null], ['list', 'not a list'], ['ratio', 'x'], ['inner', 'not an object']] as [$prop, $value]) {
    store(Shaped::class, "bad-$prop", [$prop => $value]);
    throws("map: TypeError for $prop = " . var_export($value, true), \TypeError::class, [$prop],
        fn () => Native::find(Shaped::class, "bad-$prop"));
}
throws('map: TypeError from all() too', \TypeError::class, [], fn () => Native::all(Shaped::class));
same('map: reads work after TypeErrors', 5, Native::find(Shaped::class, 's')->kept);

// (values cross into typed properties in coercive mode, as from any internal function)
// the class changed shape since the entity was stored: new property keeps its default, a
// property whose type changed is coerced or refused, one that is gone is skipped
store(ShapedLater::class, 'old', ['kept' => 5, 'noDefault' => 1, 'gone' => 'dropped']);
$later = Native::find(ShapedLater::class, 'old');
same('shape change: default of a new property, int into now-string property', ['new default', '5', 1],
    [$later->added, $later->kept, $later->noDefault]);
check('shape change: removed property skipped', !property_exists($later, 'gone'));
store(ShapedLater::class, 'old2', ['kept' => [1], 'noDefault' => 1]);
throws('shape change: array into now-string property is a TypeError', \TypeError::class, ['kept'],
    fn () => Native::find(ShapedLater::class, 'old2'));

// readonly: set once from the map, stored twice fails, private parent property set in its scope
store(Typed::class, 'ro', ['frozen' => 'once', 'label' => 'l']);
$ro = Native::find(Typed::class, 'ro');
same('map: readonly set', 'once', $ro->frozen);
throws('map: readonly stays readonly', \Error::class, ['readonly'], fn () => $ro->freeze('twice'));
store(Child::class, 'priv', ['n' => 4, 'secret' => 'from the map']);
same('map: parent private property set in its scope', ['from the map', 4],
    [Native::find(Child::class, 'priv')->secret(), Native::find(Child::class, 'priv')->n]);
$stdMap = new stdClass();
$stdMap->{'0'} = 'int key';
$stdMap->name = 'named';
Native::commit([['upsert', stdClass::class, 'std', $stdMap, 0]], [], null);
same('map: stdClass takes names, int keys included', ['0' => 'int key', 'name' => 'named'],
    get_object_vars(Native::find(stdClass::class, 'std')));

// the plan learnt from one entity must not map another name of the same length onto it
store(Twins::class, 't1', ['abcXefg' => 1, 'twelve_Xbyte' => 2, 'a_longer_name_X_than_sixteen' => 3]);
store(Twins::class, 't2', ['abcYefg' => 4, 'twelve_Ybyte' => 5, 'a_longer_name_Y_than_sixteen' => 6]);
same('names differing in one middle byte land on their own properties', [[1, 0, 2, 0, 3, 0], [0, 4, 0, 5, 0, 6]],
    array_map(fn (Twins $t) => array_values(get_object_vars($t)), Native::all(Twins::class)));

// broken bytes in a stored map (the region is corrupt) are a RegionException naming the
// entity, never a crash or a half-read object: a string length past the end, an unknown value
// tag, a key that is neither string nor int
function corrupt_region(string $region, string $marker, int $back, string $bytes): void
{
    $file = file_get_contents($region);
    $at = strpos($file, $marker);
    check("corrupt: marker $marker found", $at !== false);
    $handle = fopen($region, 'r+b');
    fseek($handle, $at - $back);
    fwrite($handle, $bytes);
    fclose($handle);
}
store(Shaped::class, 'broken-len', ['kept' => 1, 'nullable' => 'MARKER-LEN-0001']);
store(Shaped::class, 'broken-tag', ['kept' => 1, 'nullable' => 'MARKER-TAG-0002']);
store(Shaped::class, 'broken-key', ['kept' => 1, 'MARKER-KEY-0003' => 'x']);
corrupt_region($region, 'MARKER-LEN-0001', 4, pack('V', 0x7fffffff));
corrupt_region($region, 'MARKER-TAG-0002', 5, "\x0f");
corrupt_region($region, 'MARKER-KEY-0003', 5, "\x06");
throws('corrupt: string length past the end', EventSrv\RegionException::class, ['broken value', 'broken-len', 'truncated'],
    fn () => Native::find(Shaped::class, 'broken-len'));
throws('corrupt: unknown value tag', EventSrv\RegionException::class, ['broken value', 'broken-tag', 'unknown value tag'],
    fn () => Native::find(Shaped::class, 'broken-tag'));
throws('corrupt: map key neither string nor int', EventSrv\RegionException::class, ['broken value', 'broken-key', 'neither int nor string'],
    fn () => Native::find(Shaped::class, 'broken-key'));
same('corrupt: other entities still read', 5, Native::find(Shaped::class, 's')->kept);
// an entity record whose kind byte is wrong: all() walks the class list with its own checks
// and must refuse it too. The record holds no id; its cell does (16-byte cell header, u32 class
// index, then the id) and starts with the record's offset (docs/region.md).
store(Twins::class, 'corrupt-kind-uuid-0004', ['abcXefg' => 1]);
$file = file_get_contents($region);
$cell = strpos($file, 'corrupt-kind-uuid-0004') - 20;
$record = unpack('P', substr($file, $cell, 8))[1];
check('corrupt: the cell leads to a record', $record >= 4096 && $record % 8 === 0 && $record < strlen($file));
$handle = fopen($region, 'r+b');
fseek($handle, $record + 4);
fwrite($handle, "\x09");
fclose($handle);
throws('corrupt: all() refuses a record of the wrong kind', EventSrv\RegionException::class, ['entity record', 'kind 9'],
    fn () => Native::all(Twins::class));
throws('corrupt: find() refuses it too', EventSrv\RegionException::class, ['entity record', 'kind 9'],
    fn () => Native::find(Twins::class, 'corrupt-kind-uuid-0004'));

done();
