<?php

/**
 * Autoloader for the eventsrv userland, for apps without Composer: require this file once.
 * Maps EventSrv\ to src/ (PSR-4); EventSrv\Native comes from the extension, or, when that is
 * not loaded, from fallback/Native.php, which explains the problem on first use.
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'EventSrv\\', 9) !== 0) {
        return;
    }
    if ($class === 'EventSrv\\Native') {
        require __DIR__ . '/fallback/Native.php';
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 9)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
