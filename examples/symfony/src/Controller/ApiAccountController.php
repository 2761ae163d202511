<?php

declare(strict_types=1);

namespace App\Controller;

use App\Http\Amount;
use Bank\Account;
use Bank\AccountAggregateRoot;
use EventSrv\ConcurrencyException;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpKernel\Exception\NotFoundHttpException;

/**
 * The bank as JSON (what the load test and scripts use). A write is acknowledged with 200 only
 * once it is durable; a write that lost a race is retried on fresh state a few times, then
 * answered 409 (nothing written).
 */
final class ApiAccountController
{
    private const CONFLICT_RETRIES_MAX = 5;

    public function index(): JsonResponse
    {
        $accounts = array_map(static fn (Account $account): array => self::json($account), Account::all());

        return new JsonResponse(['accounts' => $accounts]);
    }

    public function show(string $uuid): JsonResponse
    {
        $account = Account::find($uuid) ?? throw new NotFoundHttpException("There is no account $uuid.");

        return new JsonResponse(self::json($account));
    }

    public function store(Request $request): JsonResponse
    {
        $uuid = AccountAggregateRoot::create((string) $request->request->get('name'))->persist()->uuid();

        return new JsonResponse(['uuid' => $uuid], 201);
    }

    public function increase(Request $request, string $uuid): JsonResponse
    {
        $amount = Amount::from($request);
        Account::find($uuid) ?? throw new NotFoundHttpException("There is no account $uuid.");
        for ($attempt = 1;; $attempt++) {
            try {
                AccountAggregateRoot::retrieve($uuid)->increaseBalance($amount)->persist();
                break;
            } catch (ConcurrencyException $conflict) {
                if ($attempt >= self::CONFLICT_RETRIES_MAX) {
                    throw $conflict;
                }
            }
        }

        return new JsonResponse(['uuid' => $uuid, 'increased' => $amount]);
    }

    /** @return array{uuid: string, name: string, balance: int} */
    private static function json(Account $account): array
    {
        return ['uuid' => $account->uuid, 'name' => $account->name, 'balance' => $account->balance];
    }
}
