<?php

declare(strict_types=1);

namespace App;

use App\Controller\AccountController;
use App\Controller\ApiAccountController;
use App\Controller\SqliteAccountController;
use App\Controller\StatusController;
use Bank\AccountProjector;
use Bank\Baseline\SqliteAccounts;
use Bank\LargeDepositReactor;
use EventSrv\Symfony\EventSrvBundle;
use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

final class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function registerBundles(): iterable
    {
        return [new FrameworkBundle(), new EventSrvBundle()];
    }

    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    /** Writable state elsewhere: scripts/frameworks.sh gives each served copy its own directory. */
    public function getCacheDir(): string
    {
        return $this->varDir() . '/cache/' . $this->environment;
    }

    public function getLogDir(): string
    {
        return $this->varDir() . '/log';
    }

    protected function configureContainer(ContainerConfigurator $container): void
    {
        $container->extension('framework', [
            // No sessions or signed URLs here; a real app sets APP_SECRET.
            'secret' => $_SERVER['APP_SECRET'] ?? 'eventsrv-example-not-a-secret',
            'http_method_override' => false,
            'router' => ['utf8' => true],
        ]);
        $container->extension('eventsrv', [
            'worker' => ['batch_size' => 1000, 'memory_limit' => 128],
        ]);

        $services = $container->services()->defaults()->autowire()->autoconfigure();
        $services->load('App\\', __DIR__)->exclude([__DIR__ . '/Kernel.php', __DIR__ . '/autoload.php']);
        $services->load('App\\Controller\\', __DIR__ . '/Controller')->tag('controller.service_arguments');

        // The bank domain's projector and reactor: autoconfigure tags them for eventsrv:work.
        $services->set(AccountProjector::class);
        $services->set(LargeDepositReactor::class)->arg('$file', '%kernel.logs_dir%/large-deposits.log');

        // The load test's baseline store (bench/http/run.sh): the same accounts in SQLite.
        $services->set(SqliteAccounts::class)->arg('$path', $this->sqlitePath());
    }

    protected function configureRoutes(RoutingConfigurator $routes): void
    {
        $routes->add('accounts', '/')->controller([AccountController::class, 'index'])->methods(['GET']);
        $routes->add('account_open', '/accounts')->controller([AccountController::class, 'store'])->methods(['POST']);
        $routes->add('account', '/accounts/{uuid}')->controller([AccountController::class, 'show'])->methods(['GET']);
        $routes->add('account_increase', '/accounts/{uuid}/increase')
            ->controller([AccountController::class, 'increase'])->methods(['POST']);
        $routes->add('account_decrease', '/accounts/{uuid}/decrease')
            ->controller([AccountController::class, 'decrease'])->methods(['POST']);
        $routes->add('status', '/status')->controller([StatusController::class, 'page'])->methods(['GET']);

        $routes->add('api_accounts', '/api/accounts')->controller([ApiAccountController::class, 'index'])->methods(['GET']);
        $routes->add('api_account_open', '/api/accounts')->controller([ApiAccountController::class, 'store'])->methods(['POST']);
        $routes->add('api_account', '/api/accounts/{uuid}')->controller([ApiAccountController::class, 'show'])->methods(['GET']);
        $routes->add('api_account_increase', '/api/accounts/{uuid}/increase')
            ->controller([ApiAccountController::class, 'increase'])->methods(['POST']);
        $routes->add('api_status', '/api/status')->controller([StatusController::class, 'json'])->methods(['GET']);

        // The same JSON reads and writes against SQLite through PDO, for the load test's comparison.
        $routes->add('sql_accounts', '/sql/api/accounts')->controller([SqliteAccountController::class, 'index'])->methods(['GET']);
        $routes->add('sql_account', '/sql/api/accounts/{uuid}')->controller([SqliteAccountController::class, 'show'])->methods(['GET']);
        $routes->add('sql_account_increase', '/sql/api/accounts/{uuid}/increase')
            ->controller([SqliteAccountController::class, 'increase'])->methods(['POST']);
    }

    private function sqlitePath(): string
    {
        $path = $_SERVER['BANK_SQLITE'] ?? getenv('BANK_SQLITE');
        return \is_string($path) && $path !== '' ? $path : $this->varDir() . '/bank.sqlite';
    }

    private function varDir(): string
    {
        $dir = $_SERVER['APP_VAR_DIR'] ?? getenv('APP_VAR_DIR');
        return \is_string($dir) && $dir !== '' ? $dir : $this->getProjectDir() . '/var';
    }
}
