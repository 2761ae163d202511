<?php

/**
 * Autoloading for the bank example: the eventsrv userland (php/autoload.php) plus the example's
 * own namespace Bank\ (src/). Used by public/index.php and worker.php.
 */

declare(strict_types=1);

require_once __DIR__ . '/../../php/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Bank\\', 5) === 0) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 5)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
