<?php

/**
 * The application, as Laravel's skeleton builds it: the stock HTTP and console kernels and
 * exception handler bound to their contracts.
 */

declare(strict_types=1);

require_once __DIR__ . '/autoload.php';

$app = new Illuminate\Foundation\Application(dirname(__DIR__));

// Writable state elsewhere (scripts/frameworks.sh gives each served copy its own directory);
// APP_SERVICES_CACHE / APP_PACKAGES_CACHE move bootstrap/cache's manifests the same way.
if (($storage = $_SERVER['APP_STORAGE'] ?? getenv('APP_STORAGE')) !== false && $storage !== '') {
    $app->useStoragePath($storage);
}

$app->singleton(Illuminate\Contracts\Http\Kernel::class, Illuminate\Foundation\Http\Kernel::class);
$app->singleton(Illuminate\Contracts\Console\Kernel::class, Illuminate\Foundation\Console\Kernel::class);
$app->singleton(Illuminate\Contracts\Debug\ExceptionHandler::class, Illuminate\Foundation\Exceptions\Handler::class);

return $app;
