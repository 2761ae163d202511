@extends('layout')
@section('title', 'Event server status')
@section('content')
<p>Daemon: <strong>{{ $status['daemon'] }}</strong> (pid {{ $status['daemon_pid'] ?: '-' }}), region {{ $status['region_state'] }}</p>
<p>Committed position <strong>{{ $status['committed'] }}</strong>, projected <strong>{{ $status['projected'] }}</strong>, lag <strong>{{ $status['lag'] }}</strong>; workers attached: {{ $status['workers'] }}</p>
<table>
    <tr><th>projector / reactor</th><th>kind</th><th class="num">checkpoint</th><th class="num">lag</th><th>status</th><th>progress</th></tr>
    @foreach ($status['handlers'] as $handler)
        <tr><td>{{ $handler['name'] }}</td><td>{{ $handler['kind'] }}</td><td class="num">{{ $handler['checkpoint'] ?? '-' }}</td><td class="num">{{ $handler['lag'] ?? '-' }}</td><td class="status-{{ $handler['status'] }}" title="{{ $handler['summary'] }}">{{ $handler['status'] }}</td><td>{{ $handler['progress'] }}</td></tr>
    @endforeach
</table>
@foreach ($status['handlers'] as $handler)
    @if ($handler['status'] !== 'active')
        <p class="status-{{ $handler['status'] }}"><strong>{{ $handler['name'] }}</strong>: {{ $handler['summary'] }}</p>
    @endif
@endforeach
<p><small>{{ $status['connection'] }} · JSON: <a href="/api/status">/api/status</a></small></p>
@endsection
