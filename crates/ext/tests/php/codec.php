<?php
// Value codec: EventSrv\Native::encode/decode round trips and serialization errors.
// Runs without a daemon or region.

declare(strict_types=1);

require __DIR__ . '/_harness.php';

use EventSrv\Native;
use EventSrv\SerializationException;

enum Currency: string
{
    case EUR = 'EUR';
    case USD = 'USD';
}

enum Priority: int
{
    case Low = 1;
    case High = 10;
}

enum Suit
{
    case Hearts;
    case Spades;
}

class Money
{
    public function __construct(
        public readonly int $amount,
        public readonly Currency $currency,
    ) {
    }
}

class Base
{
    private string $secret = 'base-secret';
    protected int $level = 1;

    public function secret(): string
    {
        return $this->secret;
    }
}

class Account extends Base
{
    public static int $constructed = 0;
    public string $name = '';
    public ?Money $balance = null;
    public array $tags = [];
    private array $history = [];
    protected ?\DateTimeImmutable $openedAt = null;
    public int $untouched;

    public function __construct()
    {
        self::$constructed++;
    }

    public function setHistory(array $h): void
    {
        $this->history = $h;
    }

    public function history(): array
    {
        return $this->history;
    }

    public function open(\DateTimeImmutable $at): void
    {
        $this->openedAt = $at;
    }

    public function openedAt(): ?\DateTimeImmutable
    {
        return $this->openedAt;
    }

    public function level(): int
    {
        return $this->level;
    }
}

class Node
{
    public ?Node $next = null;
    public string $label = '';
}

class WithHandle
{
    public $handle;
}

function roundtrip(mixed $value): mixed
{
    return Native::decode(Native::encode($value));
}

// --- scalars
foreach ([null, true, false, 0, 1, -1, PHP_INT_MAX, PHP_INT_MIN, '', 'hello', "bin\x00\xff\x01ary"] as $i => $v) {
    same("scalar #$i round trips", $v, roundtrip($v));
}
foreach ([0.0, -0.0, 1.5, -2.25e-300, 1.7976931348623157e308, 5e-324, INF, -INF] as $i => $f) {
    $back = roundtrip($f);
    check("float #$i round trips bit-exactly", is_float($back) && pack('e', $back) === pack('e', $f), var_export($back, true));
}
$nan = roundtrip(NAN);
check('NAN round trips as NAN', is_float($nan) && is_nan($nan));

// --- arrays
same('empty array', [], roundtrip([]));
same('list', [1, 'two', 3.0, null, [true]], roundtrip([1, 'two', 3.0, null, [true]]));
same('int keys keep their keys', [5 => 'a', 2 => 'b', -7 => 'c'], roundtrip([5 => 'a', 2 => 'b', -7 => 'c']));
same('list with a hole stays a map', [0 => 'a', 2 => 'c'], roundtrip([0 => 'a', 2 => 'c']));
same('mixed keys, order kept', ['z' => 1, 0 => 2, 'a' => ['x' => [1, [2, ['k' => 'v']]]]], roundtrip(['z' => 1, 0 => 2, 'a' => ['x' => [1, [2, ['k' => 'v']]]]]));
same('binary string keys', ["k\x00\xfe" => 1, '' => 2], roundtrip(["k\x00\xfe" => 1, '' => 2]));
$ref = [1, 2];
$withRef = ['a' => &$ref, 'b' => $ref];
same('references are stored as their values', ['a' => [1, 2], 'b' => [1, 2]], roundtrip($withRef));
$shared = new Node();
$shared->label = 'shared';
$pair = roundtrip([$shared, $shared]);
check('an object used twice (no cycle) is stored twice', $pair[0] == $pair[1] && $pair[0]->label === 'shared');

// --- enums
same('backed string enum', Currency::USD, roundtrip(Currency::USD));
same('backed int enum', Priority::High, roundtrip(Priority::High));
same('pure enum', Suit::Spades, roundtrip(Suit::Spades));
same('enums in arrays', ['c' => Currency::EUR, 's' => [Suit::Hearts]], roundtrip(['c' => Currency::EUR, 's' => [Suit::Hearts]]));

// --- dates
$d = new \DateTimeImmutable('2026-11-23 08:00:00.123456', new \DateTimeZone('+05:30'));
$back = roundtrip($d);
check('DateTimeImmutable class kept', $back instanceof \DateTimeImmutable);
same('DateTimeImmutable µs and offset kept', '2026-11-23T08:00:00.123456+05:30', $back->format('Y-m-d\TH:i:s.uP'));
$m = new \DateTime('1999-12-31 23:59:59.000001', new \DateTimeZone('UTC'));
$back = roundtrip($m);
check('DateTime (mutable) class kept', get_class($back) === 'DateTime');
same('DateTime text', '1999-12-31T23:59:59.000001+00:00', $back->format('Y-m-d\TH:i:s.uP'));

// --- objects
Account::$constructed = 0;
$a = new Account();
$a->name = 'Ada';
$a->balance = new Money(1050, Currency::EUR);
$a->tags = ['vip', 'x' => [1, 2]];
$a->setHistory([['deposit', 10], ['withdraw', 3]]);
$a->open($d);
Account::$constructed = 0;
$b = roundtrip($a);
check('object class kept', $b instanceof Account);
same('constructor not called on decode', 0, Account::$constructed);
same('public string prop', 'Ada', $b->name);
same('nested readonly object props', 1050, $b->balance->amount);
same('nested enum prop', Currency::EUR, $b->balance->currency);
same('array prop', ['vip', 'x' => [1, 2]], $b->tags);
same('private prop of the class', [['deposit', 10], ['withdraw', 3]], $b->history());
same('private prop of the parent class', 'base-secret', $b->secret());
same('protected prop of the parent class', 1, $b->level());
same('protected date prop', '2026-11-23T08:00:00.123456+05:30', $b->openedAt()->format('Y-m-d\TH:i:s.uP'));
$rp = new ReflectionProperty(Account::class, 'untouched');
check('uninitialized typed prop stays uninitialized', !$rp->isInitialized($b));

// An object is read from its declared slots until the engine builds its property table
// (iteration, a cast, a dynamic property): both ways must store the same bytes.
$slots = function (): Account {
    $o = new Account();
    $o->name = 'Ada';
    $o->setHistory([1]);
    unset($o->tags);
    return $o;
};
$fromSlots = $slots();
$fromTable = $slots();
$ignored = (array) $fromTable;
same('slots and property table encode alike', Native::encode($fromTable), Native::encode($fromSlots));
check('an unset property is not stored', !str_contains(Native::encode($fromSlots), 'tags'));

$std = new stdClass();
$std->a = 1;
$std->{'b c'} = [2];
same('stdClass dynamic props', ['a' => 1, 'b c' => [2]], (array) roundtrip($std));

// 64 levels of nesting is the limit and still works
$deep = 'leaf';
for ($i = 0; $i < 64; $i++) {
    $deep = [$deep];
}
same('64 nested arrays round trip', $deep, roundtrip($deep));

// --- errors
throws('Closure property path named', SerializationException::class, ['cannot store array', "element ['cb']->handle", 'Closure'], function () {
    $w = new WithHandle();
    $w->handle = fn () => 1;
    Native::encode(['cb' => $w]);
});
throws('Closure at the root', SerializationException::class, ['Closure'], fn () => Native::encode(fn () => 1));
throws('resource refused', SerializationException::class, ['cannot store WithHandle', 'property $handle', 'resource (stream)'], function () {
    $w = new WithHandle();
    $w->handle = fopen('php://memory', 'r');
    Native::encode($w);
});
throws('Generator refused', SerializationException::class, ['[0]', 'Generator'], function () {
    $gen = (function () {
        yield 1;
    })();
    Native::encode([$gen]);
});
throws('anonymous class refused', SerializationException::class, ['anonymous class', 'class@anonymous'], fn () => Native::encode(['x' => new class {
    public int $a = 1;
}]));
throws('object recursion refused', SerializationException::class, ['cannot store Node', 'property $next->next', 'recursion'], function () {
    $a = new Node();
    $b = new Node();
    $a->next = $b;
    $b->next = $a;
    Native::encode($a);
});
throws('array recursion refused', SerializationException::class, ['recursion'], function () {
    $arr = [1];
    $arr[] = &$arr;
    Native::encode($arr);
});
throws('65 levels of nesting refused', SerializationException::class, ['more than 64 levels'], function () {
    $deep = 'leaf';
    for ($i = 0; $i < 65; $i++) {
        $deep = [$deep];
    }
    Native::encode($deep);
});
throws('built-in objects refused', SerializationException::class, ['ArrayObject'], fn () => Native::encode(new ArrayObject([1])));
throws('garbage bytes refused on decode', SerializationException::class, ['cannot decode'], fn () => Native::decode("\x07\xff\xff\xff\xff"));
throws('unknown tag refused on decode', SerializationException::class, ['unknown value tag 0x7f'], fn () => Native::decode("\x7f"));
throws('trailing bytes refused on decode', SerializationException::class, ['bytes after the value'], fn () => Native::decode("\x00\x00"));
throws('unknown class on decode', SerializationException::class, ['No\\Such\\Thing', 'could not be autoloaded'], function () {
    $bytes = "\x08" . pack('V', 13) . 'No\\Such\\Thing' . pack('V', 0);
    Native::decode($bytes);
});
throws('unknown enum case on decode', SerializationException::class, ['Currency', "'GBP'"], function () {
    $bytes = "\x09" . pack('V', 8) . 'Currency' . "\x05" . pack('V', 3) . 'GBP';
    Native::decode($bytes);
});

// properties the class no longer declares are skipped
$bytes = "\x08" . pack('V', 4) . 'Node' . pack('V', 2)
    . pack('V', 5) . 'label' . "\x05" . pack('V', 2) . 'hi'
    . pack('V', 7) . 'removed' . "\x03" . pack('P', 42);
$n = Native::decode($bytes);
check('undeclared stored property skipped', $n instanceof Node && $n->label === 'hi' && !property_exists($n, 'removed'));

// a typed property that no longer accepts the stored value: TypeError surfaces
throws('type mismatch on decode surfaces as TypeError', \TypeError::class, ['label'], function () {
    $bytes = "\x08" . pack('V', 4) . 'Node' . pack('V', 1) . pack('V', 5) . 'label' . "\x06" . pack('V', 0);
    Native::decode($bytes);
});

// --- misc
same('connection state before any request', 'not connected', Native::connectionState());
check('Native is final', (new ReflectionClass(Native::class))->isFinal());
same('encoding is deterministic', Native::encode($a), Native::encode($a));

done();
