<?php

/**
 * PHPUnit bootstrap: the userland autoloader plus one for the tests' own namespace.
 */

declare(strict_types=1);

require __DIR__ . '/../autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'EventSrv\\Tests\\', 15) === 0) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, 15)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
