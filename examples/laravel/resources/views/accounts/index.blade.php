@extends('layout')
@section('title', 'Accounts')
@section('content')
<table>
    <tr><th>name</th><th class="num">balance</th></tr>
    @forelse ($accounts as $account)
        <tr><td><a href="/accounts/{{ $account->uuid }}">{{ $account->name }}</a></td><td class="num">{{ $account->balance }}</td></tr>
    @empty
        <tr><td colspan="2">No accounts yet.</td></tr>
    @endforelse
</table>
<h2>Open an account</h2>
<form method="post" action="/accounts"><input name="name" required> <button>Open</button></form>
@endsection
