<?php
// PHP values the daemon must never see half of, and values that must survive the trip intact:
//
//   php bad_values.php bad <uuid>     tries every value that cannot be stored; one line per case:
//                                     "<case>: <exception class>: <message>" (or "<case>: stored")
//   php bad_values.php write <prefix> stores what can be stored but is awkward: non-UTF-8
//                                     bytes, and classes only this process knows (Ghost\...),
//                                     in streams <prefix>1, <prefix>2, <prefix>3 (<prefix>: a
//                                     uuid without its last digit)
//   php bad_values.php read <prefix>  reads them back in a process that does not know Ghost\...:
//                                     one line per stream, "<stream>: ok <detail>" or the exception
require_once __DIR__ . '/fixtures.php';

use EventSrv\Native;

ini_set('memory_limit', '1G');

[$_, $mode, $key] = $argv;

/** 100 MB: far over the 8 MiB frame limit. */
const HUGE_STRING_BYTES = 100 * 1024 * 1024;
const NOT_UTF8 = "caf\xe9 \xff\xfe\x00 \xc3\x28";

function attempt(string $case, string $uuid, mixed $label): void
{
    try {
        Fixture\Counter::retrieve($uuid)->label($label)->persist();
        echo "$case: stored\n";
    } catch (Throwable $e) {
        echo "$case: ", get_class($e), ': ', str_replace("\n", ' ', $e->getMessage()), "\n";
    }
}

function deeplyNested(int $levels): array
{
    $value = [];
    for ($i = 0; $i < $levels; $i++) {
        $value = [$value];
    }
    return $value;
}

if ($mode === 'bad') {
    $uuid = $key;
    $recursiveArray = ['a' => 1];
    $recursiveArray['self'] = &$recursiveArray;
    $recursiveObject = new stdClass();
    $recursiveObject->child = new stdClass();
    $recursiveObject->child->parent = $recursiveObject;
    $generator = (function () {
        yield 1;
    })();
    attempt('resource', $uuid, fopen('php://memory', 'r'));
    attempt('closure', $uuid, fn () => 1);
    attempt('closure in a list', $uuid, [1, 2, static function () {
    }]);
    attempt('generator', $uuid, $generator);
    attempt('anonymous class', $uuid, new class {
        public int $x = 1;
    });
    attempt('recursive array', $uuid, $recursiveArray);
    attempt('recursive object', $uuid, $recursiveObject);
    attempt('too deep', $uuid, deeplyNested(100));
    attempt('built-in object', $uuid, new ArrayObject([1]));
    attempt('huge string', $uuid, str_repeat('x', HUGE_STRING_BYTES));
    echo 'version ', Fixture\Counter::retrieve($uuid)->version(), "\n";
    exit(0);
}

if ($mode === 'write') {
    require_once __DIR__ . '/ghost_classes.php';
    Fixture\Counter::retrieve("{$key}1")->label(NOT_UTF8)->persist();
    Fixture\Counter::retrieve("{$key}2")->label(new Ghost\Thing('boo'))->persist();
    $appended = Native::append("{$key}3", 0, [new Ghost\Appeared('boo')], [[]]);
    echo 'written ', $appended['version'] ?? json_encode($appended), "\n";
    exit(0);
}

if ($mode === 'read') {
    foreach (['bytes' => 1, 'nested' => 2, 'event' => 3] as $stream => $suffix) {
        try {
            $events = Native::streamEvents("{$key}{$suffix}");
            $label = $events[0]->label ?? null;
            $detail = $label === NOT_UTF8 ? 'same bytes' : get_debug_type($label);
            echo "$stream: ok ", count($events), " $detail\n";
        } catch (Throwable $e) {
            echo "$stream: ", get_class($e), ': ', str_replace("\n", ' ', $e->getMessage()), "\n";
        }
    }
    exit(0);
}

fwrite(STDERR, "usage: bad_values.php bad|write|read <key>\n");
exit(2);
