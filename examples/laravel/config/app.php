<?php

return [
    'name' => 'eventsrv bank (Laravel)',
    'env' => env('APP_ENV', 'production'),
    'debug' => (bool) env('APP_DEBUG', false),
    'url' => env('APP_URL', 'http://127.0.0.1'),
    'timezone' => 'UTC',
    'locale' => 'en',
    'fallback_locale' => 'en',
    // A fixed key is fine for an example without sessions or encrypted cookies; a real app sets APP_KEY.
    'key' => env('APP_KEY', 'base64:ZXZlbnRzcnYtZXhhbXBsZS1rZXktMzItYnl0ZXMhIQ=='),
    'cipher' => 'AES-256-CBC',
    'providers' => [
        Illuminate\Filesystem\FilesystemServiceProvider::class,
        Illuminate\Foundation\Providers\FoundationServiceProvider::class,
        Illuminate\Translation\TranslationServiceProvider::class,
        Illuminate\View\ViewServiceProvider::class,
        EventSrv\Laravel\EventSrvServiceProvider::class,
        App\Providers\AppServiceProvider::class,
        App\Providers\RouteServiceProvider::class,
    ],
    'aliases' => [],
];
