<table>
    <tr><th>name</th><th class="num">balance</th></tr>
    <?php foreach ($accounts as $account): ?>
        <tr><td><a href="/accounts/<?= $e($account->uuid) ?>"><?= $e($account->name) ?></a></td><td class="num"><?= $e($account->balance) ?></td></tr>
    <?php endforeach ?>
    <?php if ($accounts === []): ?>
        <tr><td colspan="2">No accounts yet.</td></tr>
    <?php endif ?>
</table>
<h2>Open an account</h2>
<form method="post" action="/accounts"><input name="name" required> <button>Open</button></form>
