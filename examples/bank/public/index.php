<?php

/**
 * The bank example's web front, for PHP's built-in server (the eventsrv daemon and the worker
 * must be running):
 *
 *     php -d extension=/path/to/eventsrv.so -S 127.0.0.1:8080 -t examples/bank/public
 *
 * Pages (HTML):  GET /                  accounts, forms, status box
 *                GET /accounts/{uuid}   one account and its event history
 *                POST /                 action=create (name) | increase | decrease (uuid, amount);
 *                                       answers 303 back to the page with a notice or an error
 * JSON:          GET /api/accounts (also /?format=json), GET /api/accounts/{uuid}, GET /api/status,
 *                POST /api/accounts (name) -> 201, POST /api/accounts/{uuid}/increase|decrease (amount)
 *                POST bodies may be form-encoded or JSON. Errors: 404, 409 (concurrent write),
 *                422 (domain rule), 503 (daemon or extension unavailable).
 *
 * Reads come from shared memory (Account::all(), ::find()); writes go through the aggregate
 * (retrieve -> command -> persist), and persist() waits until the projection caught up, so the
 * page we redirect to already shows the change.
 */

declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use Bank\Account;
use Bank\AccountAggregateRoot;
use EventSrv\ConcurrencyException;
use EventSrv\DaemonUnavailableException;
use EventSrv\EventSrvException;
use EventSrv\Native;
use EventSrv\RegionException;

final class HttpError extends RuntimeException
{
    public function __construct(public readonly int $status, string $message)
    {
        parent::__construct($message);
    }
}

function h(mixed $value): string
{
    return htmlspecialchars((string) $value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

/** @param array<mixed> $data */
function sendJson(int $status, array $data): void
{
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    header('Cache-Control: no-store');
    $flags = JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
    echo json_encode($data, $flags), "\n";
}

function redirect(string $to, array $query = []): void
{
    header('Location: ' . $to . ($query === [] ? '' : '?' . http_build_query($query)), true, 303);
}

/** @return array{uuid: string, name: string, balance: int} */
function accountJson(Account $account): array
{
    return ['uuid' => $account->uuid, 'name' => $account->name, 'balance' => $account->balance];
}

/** @return array<string, mixed> form fields or a JSON object */
function input(): array
{
    if (str_contains($_SERVER['CONTENT_TYPE'] ?? '', 'application/json')) {
        $decoded = json_decode((string) file_get_contents('php://input'), true);
        if (!is_array($decoded)) {
            throw new HttpError(400, 'The request body is not a JSON object.');
        }
        return $decoded;
    }
    return $_POST;
}

function amountFrom(array $input): int
{
    $amount = $input['amount'] ?? '';
    if (is_int($amount)) {
        return $amount;
    }
    if (!is_string($amount) || preg_match('/^-?\d{1,15}$/', trim($amount)) !== 1) {
        throw new HttpError(422, 'The amount must be a whole number.');
    }
    return (int) trim($amount);
}

function existingAccount(string $uuid): Account
{
    return Account::find($uuid) ?? throw new HttpError(404, 'There is no account ' . $uuid . '.');
}

/** Runs a command on an existing account and persists it. */
function change(string $uuid, string $action, int $amount): void
{
    existingAccount($uuid);
    $aggregate = AccountAggregateRoot::retrieve($uuid);
    match ($action) {
        'increase' => $aggregate->increaseBalance($amount),
        'decrease' => $aggregate->decreaseBalance($amount),
    };
    $aggregate->persist();
}

function statusData(): array
{
    $positions = Native::positions();
    return [
        'committed' => $positions['committed'],
        'projected' => $positions['projected'],
        'workers' => $positions['workers'],
        'state' => $positions['state'],
        'connection' => Native::connectionState(),
    ];
}

/** Turns what went wrong into a status code and a sentence for people. */
function describeFailure(Throwable $failure): array
{
    return match (true) {
        $failure instanceof HttpError => [$failure->status, $failure->getMessage()],
        $failure instanceof ConcurrencyException => [
            409,
            'Someone else changed this account at the same moment; nothing was saved. Please try again. '
            . '(' . $failure->getMessage() . ')',
        ],
        $failure instanceof DomainException => [422, $failure->getMessage()],
        $failure instanceof DaemonUnavailableException, $failure instanceof RegionException => [
            503,
            'The event server is not available: ' . $failure->getMessage(),
        ],
        $failure instanceof EventSrvException => [503, $failure->getMessage()],
        default => [500, 'Unexpected error: ' . $failure::class . ': ' . $failure->getMessage()],
    };
}

function page(string $title, string $body, ?array $status, ?string $notice, ?string $error): void
{
    header('Content-Type: text/html; charset=utf-8');
    header('Cache-Control: no-store');
    $statusBox = $status === null ? '<p class="muted">status unavailable</p>' : sprintf(
        '<dl><dt>committed</dt><dd>%s</dd><dt>projected</dt><dd>%s</dd><dt>workers</dt><dd>%s</dd>'
        . '<dt>region</dt><dd>%s</dd></dl><p class="muted">%s</p>',
        h($status['committed']),
        h($status['projected']),
        h($status['workers']),
        h($status['state']),
        h($status['connection']),
    );
    $flash = ($notice === null ? '' : '<p class="notice">' . h($notice) . '</p>')
        . ($error === null ? '' : '<p class="error">' . h($error) . '</p>');
    echo <<<HTML
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>{$title} · eventsrv bank</title>
    <style>
      body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
      h1 a { color: inherit; text-decoration: none; }
      table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
      th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; }
      td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
      form.inline { display: inline; }
      input[type=number] { width: 7rem; }
      .notice { background: #e7f6e7; border: 1px solid #9c9; padding: .5rem .75rem; }
      .error { background: #fbeaea; border: 1px solid #d99; padding: .5rem .75rem; }
      .muted { color: #777; font-size: 90%; }
      aside { float: right; border: 1px solid #ccc; padding: .25rem .75rem; margin: 0 0 1rem 1rem; font-size: 90%; }
      aside dl { display: grid; grid-template-columns: auto auto; gap: 0 1rem; margin: .25rem 0; }
      aside dd { margin: 0; text-align: right; }
    </style>
    </head>
    <body>
    <aside><strong>eventsrv</strong>{$statusBox}</aside>
    <h1><a href="/">eventsrv bank</a></h1>
    {$flash}
    {$body}
    </body>
    </html>
    HTML;
}

function accountsPage(?string $notice, ?string $error): void
{
    $h = h(...);
    $accounts = Account::all();
    $rows = '';
    foreach ($accounts as $account) {
        $uuid = h($account->uuid);
        $rows .= <<<HTML
        <tr>
          <td><a href="/accounts/{$uuid}">{$h($account->name)}</a></td>
          <td class="num">{$h($account->balance)}</td>
          <td>
            <form class="inline" method="post" action="/">
              <input type="hidden" name="uuid" value="{$uuid}">
              <input type="number" name="amount" min="1" step="1" required placeholder="amount">
              <button name="action" value="increase">Increase</button>
              <button name="action" value="decrease">Decrease</button>
            </form>
          </td>
        </tr>
        HTML;
    }
    $total = h(Account::query()->sum('balance'));
    $count = count($accounts);
    $table = $count === 0
        ? '<p class="muted">No accounts yet.</p>'
        : <<<HTML
        <table>
          <thead><tr><th>Account</th><th class="num">Balance</th><th>Change</th></tr></thead>
          <tbody>{$rows}</tbody>
          <tfoot><tr><th>{$count} account(s)</th><th class="num">{$total}</th><th></th></tr></tfoot>
        </table>
        HTML;
    $body = <<<HTML
    <h2>Accounts</h2>
    {$table}
    <h2>Open an account</h2>
    <form method="post" action="/">
      <input type="hidden" name="action" value="create">
      <input name="name" required maxlength="100" placeholder="name">
      <button>Create account</button>
    </form>
    <p class="muted">JSON: <a href="/api/accounts">/api/accounts</a> · <a href="/api/status">/api/status</a></p>
    HTML;
    page('Accounts', $body, statusOrNull(), $notice, $error);
}

function accountPage(string $uuid): void
{
    $account = existingAccount($uuid);
    $history = '';
    foreach (Native::streamEvents($uuid) as $event) {
        $meta = $event->meta();
        $what = match (true) {
            $event instanceof Bank\AccountCreated => 'opened as “' . $event->name . '”',
            $event instanceof Bank\BalanceIncreased => '+' . $event->amount,
            $event instanceof Bank\BalanceDecreased => '−' . $event->amount,
            default => $event::class,
        };
        $history .= sprintf(
            '<tr><td class="num">%d</td><td class="num">#%d</td><td>%s</td><td>%s</td></tr>',
            $meta->version(),
            $meta->position(),
            h($meta->recordedAt()->format('Y-m-d H:i:s')),
            h($what),
        );
    }
    $body = sprintf(
        '<h2>%s</h2><p>Balance: <strong>%s</strong></p><p class="muted">%s</p>'
        . '<h3>History</h3><table><thead><tr><th class="num">version</th><th class="num">position</th>'
        . '<th>recorded</th><th>event</th></tr></thead><tbody>%s</tbody></table><p><a href="/">← all accounts</a></p>',
        h($account->name),
        h($account->balance),
        h($account->uuid),
        $history,
    );
    page($account->name, $body, statusOrNull(), null, null);
}

function statusOrNull(): ?array
{
    try {
        return statusData();
    } catch (Throwable) {
        return null;
    }
}

/** Handles one request; throws what goes wrong. */
function route(string $method, string $path): void
{
    $path = rtrim($path, '/') ?: '/';
    $segments = $path === '/' ? [] : explode('/', ltrim($path, '/'));
    $wantsJson = ($segments[0] ?? '') === 'api' || ($_GET['format'] ?? '') === 'json';

    if (!$wantsJson && $method === 'POST' && $segments === []) {
        $input = input();
        $action = (string) ($input['action'] ?? '');
        try {
            if ($action === 'create') {
                AccountAggregateRoot::create((string) ($input['name'] ?? ''))->persist();
                redirect('/', ['notice' => 'Account created.']);
                return;
            }
            if ($action === 'increase' || $action === 'decrease') {
                change((string) ($input['uuid'] ?? ''), $action, amountFrom($input));
                redirect('/', ['notice' => $action === 'increase' ? 'Balance increased.' : 'Balance decreased.']);
                return;
            }
            throw new HttpError(400, 'Unknown action.');
        } catch (DomainException | ConcurrencyException | HttpError $refused) {
            redirect('/', ['error' => describeFailure($refused)[1]]);
            return;
        }
    }

    if (!$wantsJson) {
        if ($method === 'GET' && $segments === []) {
            accountsPage(
                isset($_GET['notice']) ? (string) $_GET['notice'] : null,
                isset($_GET['error']) ? (string) $_GET['error'] : null,
            );
            return;
        }
        if ($method === 'GET' && count($segments) === 2 && $segments[0] === 'accounts') {
            accountPage($segments[1]);
            return;
        }
        throw new HttpError(404, 'Not found.');
    }

    if ($segments !== [] && $segments[0] !== 'api') {
        throw new HttpError(404, 'Not found.');
    }
    if ($segments === [] || $segments === ['api', 'accounts']) {
        if ($method === 'GET') {
            sendJson(200, ['accounts' => array_map('accountJson', Account::all())]);
            return;
        }
        if ($method === 'POST' && $segments !== []) {
            $uuid = AccountAggregateRoot::create((string) (input()['name'] ?? ''))->persist()->uuid();
            $account = Account::find($uuid);
            sendJson(201, ['account' => $account === null ? ['uuid' => $uuid] : accountJson($account)]);
            return;
        }
    }
    if ($segments === ['api', 'status'] && $method === 'GET') {
        sendJson(200, statusData());
        return;
    }
    if (count($segments) === 3 && $segments[1] === 'accounts' && $method === 'GET') {
        sendJson(200, ['account' => accountJson(existingAccount($segments[2]))]);
        return;
    }
    $isCommand = count($segments) === 4 && in_array($segments[3], ['increase', 'decrease'], true);
    if ($isCommand && $segments[1] === 'accounts') {
        if ($method !== 'POST') {
            throw new HttpError(405, 'Use POST.');
        }
        change($segments[2], $segments[3], amountFrom(input()));
        sendJson(200, ['account' => accountJson(existingAccount($segments[2]))]);
        return;
    }
    throw new HttpError(404, 'Not found.');
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$path = (string) parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
$wantsJson = str_starts_with($path, '/api/') || $path === '/api' || ($_GET['format'] ?? '') === 'json';

try {
    route($method, $path);
} catch (Throwable $failure) {
    [$status, $message] = describeFailure($failure);
    if ($status >= 500) {
        error_log('bank example: ' . $failure::class . ': ' . $failure->getMessage() . ' at '
            . $failure->getFile() . ':' . $failure->getLine());
    }
    if ($wantsJson) {
        sendJson($status, ['error' => $message]);
    } else {
        http_response_code($status);
        page('Error', '<p><a href="/">← all accounts</a></p>', statusOrNull(), null, $message);
    }
}
