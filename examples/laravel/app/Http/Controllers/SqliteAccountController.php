<?php

declare(strict_types=1);

namespace App\Http\Controllers;

use App\Http\Amount;
use Bank\Baseline\SqliteAccounts;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;

/** ApiAccountController's reads and writes against SQLite (PDO), for the load test's comparison. */
final class SqliteAccountController
{
    public function __construct(private readonly SqliteAccounts $accounts)
    {
    }

    public function index(): JsonResponse
    {
        return response()->json(['accounts' => $this->accounts->all()]);
    }

    public function show(string $uuid): JsonResponse
    {
        return response()->json($this->accounts->find($uuid) ?? abort(404, "There is no account $uuid."));
    }

    public function increase(Request $request, string $uuid): JsonResponse
    {
        $amount = Amount::from($request);
        $this->accounts->increase($uuid, $amount) || abort(404, "There is no account $uuid.");

        return response()->json(['uuid' => $uuid, 'increased' => $amount]);
    }
}
