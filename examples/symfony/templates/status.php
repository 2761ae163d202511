<p>Daemon: <strong><?= $e($status['daemon']) ?></strong> (pid <?= $e($status['daemon_pid'] ?: '-') ?>), region <?= $e($status['region_state']) ?></p>
<p>Committed position <strong><?= $e($status['committed']) ?></strong>, projected <strong><?= $e($status['projected']) ?></strong>, lag <strong><?= $e($status['lag']) ?></strong>; workers attached: <?= $e($status['workers']) ?></p>
<table>
    <tr><th>projector / reactor</th><th>kind</th><th class="num">checkpoint</th><th class="num">lag</th><th>status</th></tr>
    <?php foreach ($status['handlers'] as $handler): ?>
        <tr><td><?= $e($handler['name']) ?></td><td><?= $e($handler['kind']) ?></td><td class="num"><?= $e($handler['checkpoint'] ?? '-') ?></td><td class="num"><?= $e($handler['lag'] ?? '-') ?></td><td><?= $e($handler['status']) ?></td></tr>
    <?php endforeach ?>
</table>
<p><small><?= $e($status['connection']) ?> · JSON: <a href="/api/status">/api/status</a></small></p>
