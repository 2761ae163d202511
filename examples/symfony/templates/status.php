<p>Daemon: <strong><?= $e($status['daemon']) ?></strong> (pid <?= $e($status['daemon_pid'] ?: '-') ?>), region <?= $e($status['region_state']) ?></p>
<p>Committed position <strong><?= $e($status['committed']) ?></strong>, projected <strong><?= $e($status['projected']) ?></strong>, lag <strong><?= $e($status['lag']) ?></strong>; workers attached: <?= $e($status['workers']) ?></p>
<table>
    <tr><th>projector / reactor</th><th>kind</th><th class="num">checkpoint</th><th class="num">lag</th><th>status</th><th>progress</th></tr>
    <?php foreach ($status['handlers'] as $handler): ?>
        <tr><td><?= $e($handler['name']) ?></td><td><?= $e($handler['kind']) ?></td><td class="num"><?= $e($handler['checkpoint'] ?? '-') ?></td><td class="num"><?= $e($handler['lag'] ?? '-') ?></td><td class="status-<?= $e($handler['status']) ?>" title="<?= $e($handler['summary']) ?>"><?= $e($handler['status']) ?></td><td><?= $e($handler['progress']) ?></td></tr>
    <?php endforeach ?>
</table>
<?php foreach ($status['handlers'] as $handler): ?>
    <?php if ($handler['status'] !== 'active'): ?>
        <p class="status-<?= $e($handler['status']) ?>"><strong><?= $e($handler['name']) ?></strong>: <?= $e($handler['summary']) ?></p>
    <?php endif ?>
<?php endforeach ?>
<p><small><?= $e($status['connection']) ?> · JSON: <a href="/api/status">/api/status</a></small></p>
