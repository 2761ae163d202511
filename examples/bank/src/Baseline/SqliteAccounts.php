<?php

declare(strict_types=1);

namespace Bank\Baseline;

/**
 * The accounts in a SQLite file through plain PDO: the baseline the HTTP load test
 * (bench/http/run.sh) compares eventsrv's shared-memory reads and durable appends with, in both
 * example apps. WAL with synchronous=FULL, so an
 * acknowledged write is on disk, as an acknowledged eventsrv append is.
 */
final class SqliteAccounts
{
    private ?\PDO $pdo = null;

    public function __construct(private readonly string $path)
    {
    }

    /** @return list<array{uuid: string, name: string, balance: int}> in insertion order */
    public function all(): array
    {
        $rows = $this->pdo()->query('SELECT uuid, name, balance FROM accounts ORDER BY rowid')->fetchAll(\PDO::FETCH_ASSOC);
        return array_map(self::row(...), $rows);
    }

    /** @return array{uuid: string, name: string, balance: int}|null */
    public function find(string $uuid): ?array
    {
        $statement = $this->pdo()->prepare('SELECT uuid, name, balance FROM accounts WHERE uuid = ?');
        $statement->execute([$uuid]);
        $row = $statement->fetch(\PDO::FETCH_ASSOC);
        return $row === false ? null : self::row($row);
    }

    /** @return bool false: no such account */
    public function increase(string $uuid, int $amount): bool
    {
        $statement = $this->pdo()->prepare('UPDATE accounts SET balance = balance + ? WHERE uuid = ?');
        $statement->execute([$amount, $uuid]);
        return $statement->rowCount() === 1;
    }

    /**
     * Empties the table and fills it with these accounts (the load test's set-up).
     *
     * @param iterable<\Bank\Account> $accounts
     */
    public function replaceAll(iterable $accounts): int
    {
        $pdo = $this->pdo();
        $pdo->beginTransaction();
        $pdo->exec('DELETE FROM accounts');
        $insert = $pdo->prepare('INSERT INTO accounts (uuid, name, balance) VALUES (?, ?, ?)');
        $count = 0;
        foreach ($accounts as $account) {
            $insert->execute([$account->uuid, $account->name, $account->balance]);
            $count++;
        }
        $pdo->commit();
        return $count;
    }

    private function pdo(): \PDO
    {
        if ($this->pdo === null) {
            $this->pdo = new \PDO('sqlite:' . $this->path, null, null, [\PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION]);
            $this->pdo->exec('PRAGMA busy_timeout = 10000');
            $this->pdo->exec('PRAGMA journal_mode = WAL');
            $this->pdo->exec('PRAGMA synchronous = FULL');
            $this->pdo->exec('CREATE TABLE IF NOT EXISTS accounts (uuid TEXT PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)');
        }
        return $this->pdo;
    }

    /** @param array<string, mixed> $row */
    private static function row(array $row): array
    {
        return ['uuid' => (string) $row['uuid'], 'name' => (string) $row['name'], 'balance' => (int) $row['balance']];
    }
}
