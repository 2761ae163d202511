<?php
// A snapshot holding an object of a class that is gone: php snapshot_ghost.php write|read <uuid>
//   write: 3 events, then a snapshot whose state holds a Ghost\Detail object (class defined here only)
//   read:  Ghost\Detail does not exist; retrieve() must ignore the snapshot and replay the events
require_once __DIR__ . '/../../php/autoload.php';

final class Touched extends EventSrv\Event
{
    public function __construct(public readonly int $n)
    {
    }
}

final class Haunted extends EventSrv\AggregateRoot
{
    public static int $applied = 0;
    public int $sum = 0;
    public mixed $detail = null;

    public function touch(int $n): static
    {
        return $this->event(new Touched($n));
    }

    protected function applyTouched(Touched $event): void
    {
        self::$applied++;
        $this->sum += $event->n;
    }
}

[$_, $phase, $uuid] = $argv;
if ($phase === 'write') {
    eval('namespace Ghost; final class Detail { public int $x = 7; }');
    $haunted = Haunted::retrieve($uuid)->touch(1)->touch(2)->touch(3)->persist();
    $haunted->detail = new Ghost\Detail();
    $haunted->snapshot();
    Haunted::$applied = 0;
    $again = Haunted::retrieve($uuid);
    echo json_encode(['applied' => Haunted::$applied, 'detail' => $again->detail::class]), "\n";
    exit(0);
}
$haunted = Haunted::retrieve($uuid);
echo json_encode(['applied' => Haunted::$applied, 'sum' => $haunted->sum, 'detail' => $haunted->detail]), "\n";
