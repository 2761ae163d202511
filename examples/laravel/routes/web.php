<?php

use App\Http\Controllers\AccountController;
use App\Http\Controllers\ApiAccountController;
use App\Http\Controllers\SqliteAccountController;
use App\Http\Controllers\StatusController;
use Illuminate\Support\Facades\Route;

// Pages
Route::get('/', [AccountController::class, 'index']);
Route::post('/accounts', [AccountController::class, 'store']);
Route::get('/accounts/{uuid}', [AccountController::class, 'show']);
Route::post('/accounts/{uuid}/increase', [AccountController::class, 'increase']);
Route::post('/accounts/{uuid}/decrease', [AccountController::class, 'decrease']);
Route::get('/status', [StatusController::class, 'page']);

// JSON
Route::get('/api/accounts', [ApiAccountController::class, 'index']);
Route::post('/api/accounts', [ApiAccountController::class, 'store']);
Route::get('/api/accounts/{uuid}', [ApiAccountController::class, 'show']);
Route::post('/api/accounts/{uuid}/increase', [ApiAccountController::class, 'increase']);
Route::get('/api/status', [StatusController::class, 'json']);

// The same JSON reads and writes against SQLite through PDO, for the load test's comparison.
Route::get('/sql/api/accounts', [SqliteAccountController::class, 'index']);
Route::get('/sql/api/accounts/{uuid}', [SqliteAccountController::class, 'show']);
Route::post('/sql/api/accounts/{uuid}/increase', [SqliteAccountController::class, 'increase']);
