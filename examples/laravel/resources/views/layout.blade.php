<!doctype html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>@yield('title') · eventsrv bank (Laravel)</title>
    <style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:50rem}table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left}.num{text-align:right}</style>
</head>
<body>
<nav><a href="/">Accounts</a> · <a href="/status">Status</a></nav>
<h1>@yield('title')</h1>
@yield('content')
</body>
</html>
