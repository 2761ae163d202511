<?php
// Renaming an event class: php rename.php write|read <uuid>
//   write: stores two events of class Fixture\Before\NoteTaken (stored type = that class name)
//   read:  that class no longer exists; Fixture\After\NoteWritten takes the old name as its
//          alias and must load the old events (prints their classes and payloads as JSON)
require_once __DIR__ . '/../../php/autoload.php';

[$_, $phase, $uuid] = $argv;

if ($phase === 'write') {
    eval('namespace Fixture\Before; final class NoteTaken extends \EventSrv\Event {
        public function __construct(public readonly string $text) {} }');
    eval('namespace Fixture\Before; final class Notebook extends \EventSrv\AggregateRoot {
        public function take(string $t): static { return $this->event(new NoteTaken($t)); } }');
    Fixture\Before\Notebook::retrieve($uuid)->take('first')->take('second')->persist();
    echo "written\n";
    exit(0);
}

eval('namespace Fixture\After; final class NoteWritten extends \EventSrv\Event {
    public function __construct(public readonly string $text) {} }');
eval('namespace Fixture\After; final class Notebook extends \EventSrv\AggregateRoot {
    public array $texts = [];
    public function write(string $t): static { return $this->event(new NoteWritten($t)); }
    protected function applyNoteWritten(NoteWritten $e): void { $this->texts[] = $e->text; } }');
EventSrv\EventTypes::register([Fixture\After\NoteWritten::class => 'Fixture\Before\NoteTaken']);
$notebook = Fixture\After\Notebook::retrieve($uuid)->write('third')->persist();
$events = EventSrv\Native::streamEvents($uuid);
echo json_encode([
    'texts' => Fixture\After\Notebook::retrieve($uuid)->texts,
    'classes' => array_map(fn ($e) => $e::class, $events),
    'types' => array_map(fn ($e) => $e->meta()->type(), $events),
    'version' => $notebook->version(),
]), "\n";
