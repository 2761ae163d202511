<?php

declare(strict_types=1);

namespace App\Http\Controllers;

use App\Http\Amount;
use Bank\Account;
use Bank\AccountAggregateRoot;
use Illuminate\Http\Request;

/**
 * The bank's pages. Reads come from shared memory (Account::all(), Account::find()); writes go
 * through the aggregate and persist() waits for the projection, so the page we redirect to
 * already shows the change.
 */
final class AccountController
{
    public function index()
    {
        $accounts = Account::all();

        return view('accounts.index', ['accounts' => $accounts]);
    }

    public function show(string $uuid)
    {
        $account = Account::find($uuid) ?? abort(404, "There is no account $uuid.");

        return view('accounts.show', ['account' => $account]);
    }

    public function store(Request $request)
    {
        $uuid = AccountAggregateRoot::create((string) $request->input('name'))->persist()->uuid();

        return redirect("/accounts/$uuid", 303);
    }

    public function increase(Request $request, string $uuid)
    {
        $amount = Amount::from($request);
        Account::find($uuid) ?? abort(404, "There is no account $uuid.");
        AccountAggregateRoot::retrieve($uuid)->increaseBalance($amount)->persist();

        return redirect("/accounts/$uuid", 303);
    }

    public function decrease(Request $request, string $uuid)
    {
        $amount = Amount::from($request);
        Account::find($uuid) ?? abort(404, "There is no account $uuid.");
        AccountAggregateRoot::retrieve($uuid)->decreaseBalance($amount)->persist();

        return redirect("/accounts/$uuid", 303);
    }
}
