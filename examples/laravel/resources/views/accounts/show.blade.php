@extends('layout')
@section('title', $account->name)
@section('content')
<p>Balance: <strong class="balance">{{ $account->balance }}</strong></p>
<form method="post" action="/accounts/{{ $account->uuid }}/increase"><input name="amount" size="8" required> <button>Pay in</button></form>
<form method="post" action="/accounts/{{ $account->uuid }}/decrease"><input name="amount" size="8" required> <button>Take out</button></form>
@endsection
