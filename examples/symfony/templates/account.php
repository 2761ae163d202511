<p>Balance: <strong class="balance"><?= $e($account->balance) ?></strong></p>
<form method="post" action="/accounts/<?= $e($account->uuid) ?>/increase"><input name="amount" size="8" required> <button>Pay in</button></form>
<form method="post" action="/accounts/<?= $e($account->uuid) ?>/decrease"><input name="amount" size="8" required> <button>Take out</button></form>
