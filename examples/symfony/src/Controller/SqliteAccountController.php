<?php

declare(strict_types=1);

namespace App\Controller;

use App\Http\Amount;
use Bank\Baseline\SqliteAccounts;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpKernel\Exception\NotFoundHttpException;

/** ApiAccountController's reads and writes against SQLite (PDO), for the load test's comparison. */
final class SqliteAccountController
{
    public function __construct(private readonly SqliteAccounts $accounts)
    {
    }

    public function index(): JsonResponse
    {
        return new JsonResponse(['accounts' => $this->accounts->all()]);
    }

    public function show(string $uuid): JsonResponse
    {
        return new JsonResponse($this->accounts->find($uuid) ?? throw new NotFoundHttpException("There is no account $uuid."));
    }

    public function increase(Request $request, string $uuid): JsonResponse
    {
        $amount = Amount::from($request);
        $this->accounts->increase($uuid, $amount) || throw new NotFoundHttpException("There is no account $uuid.");

        return new JsonResponse(['uuid' => $uuid, 'increased' => $amount]);
    }
}
