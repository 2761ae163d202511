<?php
// Without the userland exception classes the extension still throws something useful.

declare(strict_types=1);

$dir = sys_get_temp_dir() . '/eventsrv-ext-nouser-' . getmypid();
ini_set('eventsrv.region', "$dir/none.region");
$ok = true;
try {
    EventSrv\Native::find('A', 'b');
    $ok = false;
} catch (RuntimeException $e) {
    $ok = get_class($e) === 'RuntimeException'
        && str_starts_with($e->getMessage(), '[EventSrv\RegionException] cannot open the eventsrv state region');
    echo $e->getMessage(), "\n";
}
echo $ok ? "PASS (1 checks)\n" : "FAILED\n";
exit($ok ? 0 : 1);
