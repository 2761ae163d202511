<?php
// Aggregate snapshots through the real extension: php snapshot.php <uuid>
// Prints JSON: the state retrieved from a snapshot + later events, the same from a full
// replay, how many events each applied, and what persist()/a refused snapshot did.
require_once __DIR__ . '/../../php/autoload.php';

enum Colour: string
{
    case Red = 'red';
    case Blue = 'blue';
}

final class Painted extends EventSrv\Event
{
    public function __construct(public readonly string $colour)
    {
    }
}

abstract class Canvas extends EventSrv\AggregateRoot
{
    private array $strokes = [];

    protected function stroke(string $colour): void
    {
        $this->strokes[] = $colour;
    }

    public function strokes(): array
    {
        return $this->strokes;
    }
}

class Painting extends Canvas
{
    public static int $applied = 0;
    public ?Colour $last = null;
    protected int $count = 0;
    private ?DateTimeImmutable $first = null;
    private array $strokes = ['child'];
    private ?stdClass $detail = null;
    public mixed $extra = null;

    public function paint(string $colour): static
    {
        return $this->event(new Painted($colour));
    }

    protected function applyPainted(Painted $event): void
    {
        self::$applied++;
        $this->last = Colour::from($event->colour);
        $this->count++;
        $this->first ??= new DateTimeImmutable('2020-02-03 04:05:06.789012+02:00');
        $this->strokes[] = strtoupper($event->colour);
        $this->detail ??= new stdClass();
        $this->detail->seen = $this->count;
        $this->stroke($event->colour);
    }

    public function state(): array
    {
        return [
            'last' => $this->last?->value,
            'count' => $this->count,
            'first' => $this->first?->format('Y-m-d H:i:s.uP'),
            'strokes' => $this->strokes,
            'parent_strokes' => $this->strokes(),
            'detail' => $this->detail?->seen,
            'version' => $this->version(),
        ];
    }
}

/** Same properties, another class: its retrieve() cannot use Painting's snapshots. */
final class PaintingReplayed extends Painting
{
}

$uuid = $argv[1];
$painting = Painting::retrieve($uuid);
foreach (['red', 'blue', 'red', 'red', 'blue'] as $colour) {
    $painting->paint($colour);
}
$painting->persist()->snapshot();
Painting::retrieve($uuid)->paint('blue')->paint('red')->persist();

Painting::$applied = 0;
$fromSnapshot = Painting::retrieve($uuid);
$appliedFromSnapshot = Painting::$applied;
Painting::$applied = 0;
$replayed = PaintingReplayed::retrieve($uuid);
$appliedReplay = Painting::$applied;
$states = [$fromSnapshot->state(), $replayed->state()];

$stale = Painting::retrieve($uuid);
$fromSnapshot->paint('red')->persist();
try {
    $stale->paint('blue')->persist();
    $conflict = 'none';
} catch (EventSrv\ConcurrencyException $e) {
    $conflict = 'conflict';
}

$refused = 'not refused';
$snapshotsBefore = EventSrv\Native::streamVersion($uuid . '.snapshot');
$withClosure = Painting::retrieve($uuid);
$withClosure->extra = [fn () => 1];
try {
    $withClosure->snapshot();
} catch (EventSrv\SerializationException $e) {
    $refused = $e->getMessage();
}

echo json_encode([
    'from_snapshot' => $states[0],
    'replayed' => $states[1],
    'applied_from_snapshot' => $appliedFromSnapshot,
    'applied_replay' => $appliedReplay,
    'after_persist' => $fromSnapshot->version(),
    'stale' => $conflict,
    'refused' => $refused,
    'snapshots' => [$snapshotsBefore, EventSrv\Native::streamVersion($uuid . '.snapshot')],
]), "\n";
