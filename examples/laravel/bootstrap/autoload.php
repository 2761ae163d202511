<?php

/**
 * Class loading: Laravel from Debian's php-laravel-framework (its autoloader relies on the
 * default include_path), then Composer's autoloader for the app (App\), the bank domain (Bank\)
 * and the eventsrv package (a `path` repository: composer install works offline).
 */

declare(strict_types=1);

require_once 'Illuminate/autoload.php';
require_once dirname(__DIR__) . '/vendor/autoload.php';
