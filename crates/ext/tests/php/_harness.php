<?php
// Shared by the test scripts: minimal stand-ins for the userland classes (the real ones live in
// php/src) and a tiny assertion helper. Every script ends by calling done().

namespace EventSrv {
    if (!class_exists(EventSrvException::class, false)) {
        class EventSrvException extends \RuntimeException {}
        class DaemonUnavailableException extends EventSrvException {}
        class RegionException extends EventSrvException {}
        class RegionLayoutMismatchException extends RegionException {}
        class SerializationException extends EventSrvException {}
        class FrameTooLargeException extends EventSrvException {}
        class UnknownEventTypeException extends EventSrvException {}
        class DaemonException extends EventSrvException {}

        abstract class Event
        {
            private array $meta = [];

            public function meta(): array
            {
                return $this->meta;
            }
        }
    }
}

namespace {
    $GLOBALS['__failures'] = 0;
    $GLOBALS['__checks'] = 0;

    function check(string $name, bool $ok, string $detail = ''): void
    {
        $GLOBALS['__checks']++;
        if ($ok) {
            echo "ok   $name\n";
        } else {
            $GLOBALS['__failures']++;
            echo "FAIL $name" . ($detail !== '' ? ": $detail" : '') . "\n";
        }
    }

    function same(string $name, mixed $expected, mixed $actual): void
    {
        check($name, $expected === $actual, 'expected ' . var_export($expected, true) . ', got ' . var_export($actual, true));
    }

    /** Run $fn, expect it to throw $class with a message containing every $needles. */
    function throws(string $name, string $class, array $needles, callable $fn): void
    {
        try {
            $fn();
            check($name, false, "no exception, expected $class");
        } catch (\Throwable $e) {
            $missing = array_values(array_filter($needles, fn ($n) => !str_contains($e->getMessage(), $n)));
            check(
                $name,
                $e instanceof $class && $missing === [],
                get_class($e) . ': ' . $e->getMessage() . ($missing ? ' (missing: ' . implode(' | ', $missing) . ')' : '')
            );
        }
    }

    function done(): void
    {
        $n = $GLOBALS['__checks'];
        $f = $GLOBALS['__failures'];
        echo $f === 0 ? "PASS ($n checks)\n" : "FAILED ($f of $n checks)\n";
        exit($f === 0 ? 0 : 1);
    }
}
