<?php

declare(strict_types=1);

namespace App\Providers;

use Bank\Baseline\SqliteAccounts;
use Bank\LargeDepositReactor;
use EventSrv\ConcurrencyException;
use EventSrv\DaemonUnavailableException;
use EventSrv\RegionException;
use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Http\Request;
use Illuminate\Support\ServiceProvider;
use Symfony\Component\HttpKernel\Exception\NotFoundHttpException;

final class AppServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        // The reactor discovered in the bank domain writes its log under storage/.
        $this->app->when(LargeDepositReactor::class)
            ->needs('$file')
            ->give(fn (): string => storage_path('logs/large-deposits.log'));

        $this->app->singleton(SqliteAccounts::class, fn (): SqliteAccounts => new SqliteAccounts(config('database.sqlite_path')));
    }

    public function boot(): void
    {
        // What went wrong, as a status code and a sentence: JSON under /api/, text elsewhere.
        if ($this->app->runningInConsole()) {
            $this->commands([\App\Console\SqliteSyncCommand::class]);
        }

        $handler = $this->app->make(ExceptionHandler::class);
        $answer = static function (int $status, \Throwable $failure, Request $request) {
            $message = $failure->getMessage();
            return $request->is('api/*', 'sql/api/*')
                ? response()->json(['error' => $message], $status)
                : response($message, $status, ['Content-Type' => 'text/plain; charset=utf-8']);
        };
        $handler->renderable(fn (ConcurrencyException $e, Request $r) => $answer(409, $e, $r));
        $handler->renderable(fn (\DomainException $e, Request $r) => $answer(422, $e, $r));
        $handler->renderable(fn (DaemonUnavailableException $e, Request $r) => $answer(503, $e, $r));
        $handler->renderable(fn (RegionException $e, Request $r) => $answer(503, $e, $r));
        $handler->renderable(fn (NotFoundHttpException $e, Request $r) => $answer(404, $e, $r));
    }
}
