<?php

/**
 * The SQLite comparison (routes under /sql/): the same accounts in a SQLite file read through
 * PDO, to put eventsrv's shared-memory reads next to a database on the same app and server.
 */

return [
    'sqlite_path' => env('BANK_SQLITE', storage_path('bank.sqlite')),
];
