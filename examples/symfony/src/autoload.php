<?php

/**
 * Class loading: Symfony from Debian's php-symfony-* packages (their autoloaders rely on the
 * default include_path), then Composer's autoloader for the app (App\), the bank domain (Bank\)
 * and the eventsrv package (a `path` repository: composer install works offline).
 */

declare(strict_types=1);

require_once 'Symfony/Bundle/FrameworkBundle/autoload.php';
require_once 'Symfony/Component/Console/autoload.php';
require_once dirname(__DIR__) . '/vendor/autoload.php';
