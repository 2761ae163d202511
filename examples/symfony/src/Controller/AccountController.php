<?php

declare(strict_types=1);

namespace App\Controller;

use App\Http\Amount;
use App\View\Page;
use Bank\Account;
use Bank\AccountAggregateRoot;
use Symfony\Component\HttpFoundation\RedirectResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpKernel\Exception\NotFoundHttpException;

/**
 * The bank's pages. Reads come from shared memory (Account::all(), Account::find()); writes go
 * through the aggregate and persist() waits for the projection, so the page we redirect to
 * already shows the change.
 */
final class AccountController
{
    public function __construct(private readonly Page $page)
    {
    }

    public function index(): Response
    {
        $accounts = Account::all();

        return $this->page->render('accounts', 'Accounts', ['accounts' => $accounts]);
    }

    public function show(string $uuid): Response
    {
        $account = Account::find($uuid) ?? throw new NotFoundHttpException("There is no account $uuid.");

        return $this->page->render('account', $account->name, ['account' => $account]);
    }

    public function store(Request $request): Response
    {
        $uuid = AccountAggregateRoot::create((string) $request->request->get('name'))->persist()->uuid();

        return new RedirectResponse("/accounts/$uuid", 303);
    }

    public function increase(Request $request, string $uuid): Response
    {
        $amount = Amount::from($request);
        Account::find($uuid) ?? throw new NotFoundHttpException("There is no account $uuid.");
        AccountAggregateRoot::retrieve($uuid)->increaseBalance($amount)->persist();

        return new RedirectResponse("/accounts/$uuid", 303);
    }

    public function decrease(Request $request, string $uuid): Response
    {
        $amount = Amount::from($request);
        Account::find($uuid) ?? throw new NotFoundHttpException("There is no account $uuid.");
        AccountAggregateRoot::retrieve($uuid)->decreaseBalance($amount)->persist();

        return new RedirectResponse("/accounts/$uuid", 303);
    }
}
