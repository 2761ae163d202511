<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * A small fluent query over Entity::all(), evaluated in PHP when get(), first(), count() or
 * sum() is called. Conditions are and-ed.
 *
 *     Account::query()->where('balance', '>=', 100)->whereIn('currency', ['EUR', 'USD'])
 *         ->orderBy('balance', 'desc')->limit(10)->get();
 *
 * Operators: = == (same as =, loose), === != <> !== < <= > >= like (SQL-style % and _,
 * case-insensitive) and `not like`; where() with two arguments means =; where() with a
 * closure filters by it.
 *
 * @template T of Entity
 */
final class Query
{
    private const OPERATORS = ['=', '==', '===', '!=', '<>', '!==', '<', '<=', '>', '>=', 'like', 'not like'];

    /** @var list<\Closure(T): bool> */
    private array $filters = [];

    /** @var list<array{string, int}> property, 1 or -1 */
    private array $order = [];

    private ?int $limit = null;

    private int $offset = 0;

    /** @param class-string<T> $class */
    public function __construct(private string $class)
    {
    }

    /**
     * @param string|\Closure(T): bool $property
     * @return $this
     */
    public function where(string|\Closure $property, mixed $operatorOrValue = null, mixed $value = null): self
    {
        if ($property instanceof \Closure) {
            $this->filters[] = $property;
            return $this;
        }
        if (\func_num_args() === 2) {
            [$operator, $value] = ['=', $operatorOrValue];
        } else {
            $operator = \is_string($operatorOrValue) ? strtolower($operatorOrValue) : $operatorOrValue;
            if (!\in_array($operator, self::OPERATORS, true)) {
                throw new \InvalidArgumentException(sprintf(
                    'unknown operator %s in where(%s, …): use one of %s',
                    var_export($operatorOrValue, true),
                    $property,
                    implode(' ', self::OPERATORS),
                ));
            }
        }
        $this->filters[] = static fn (Entity $entity): bool =>
            self::compare(self::valueOf($entity, $property), $operator, $value);
        return $this;
    }

    /**
     * @param list<mixed> $values
     * @return $this
     */
    public function whereIn(string $property, array $values): self
    {
        $this->filters[] = static fn (Entity $entity): bool =>
            \in_array(self::valueOf($entity, $property), $values, false);
        return $this;
    }

    /**
     * @param list<mixed> $values
     * @return $this
     */
    public function whereNotIn(string $property, array $values): self
    {
        $this->filters[] = static fn (Entity $entity): bool =>
            !\in_array(self::valueOf($entity, $property), $values, false);
        return $this;
    }

    /** @return $this; called again, adds a tie-breaker */
    public function orderBy(string $property, string $direction = 'asc'): self
    {
        $direction = strtolower($direction);
        if ($direction !== 'asc' && $direction !== 'desc') {
            throw new \InvalidArgumentException("orderBy($property, '$direction'): direction must be 'asc' or 'desc'");
        }
        $this->order[] = [$property, $direction === 'asc' ? 1 : -1];
        return $this;
    }

    /** @return $this */
    public function limit(int $limit): self
    {
        if ($limit < 0) {
            throw new \InvalidArgumentException("limit($limit): must not be negative");
        }
        $this->limit = $limit;
        return $this;
    }

    /** @return $this */
    public function offset(int $offset): self
    {
        if ($offset < 0) {
            throw new \InvalidArgumentException("offset($offset): must not be negative");
        }
        $this->offset = $offset;
        return $this;
    }

    /** @return list<T> */
    public function get(): array
    {
        $entities = $this->matching();
        if ($this->order !== []) {
            $order = $this->order;
            usort($entities, static function (Entity $a, Entity $b) use ($order): int {
                foreach ($order as [$property, $direction]) {
                    $comparison = self::valueOf($a, $property) <=> self::valueOf($b, $property);
                    if ($comparison !== 0) {
                        return $comparison * $direction;
                    }
                }
                return 0; // usort is stable: ties keep insertion order
            });
        }
        if ($this->offset > 0 || $this->limit !== null) {
            $entities = \array_slice($entities, $this->offset, $this->limit);
        }
        return $entities;
    }

    /** @return T|null */
    public function first(): ?Entity
    {
        $query = clone $this;
        $query->limit = 1;
        return $query->get()[0] ?? null;
    }

    /** Counts what get() would return. */
    public function count(): int
    {
        return \count($this->get());
    }

    public function exists(): bool
    {
        return $this->first() !== null;
    }

    public function sum(string $property): int|float
    {
        $sum = 0;
        foreach ($this->get() as $entity) {
            $sum += self::valueOf($entity, $property);
        }
        return $sum;
    }

    /** @return list<mixed> one property of every match */
    public function pluck(string $property): array
    {
        return array_map(static fn (Entity $entity): mixed => self::valueOf($entity, $property), $this->get());
    }

    /** @return list<T> */
    private function matching(): array
    {
        $class = $this->class;
        $entities = $class::all();
        if ($this->filters === []) {
            return $entities;
        }
        $matches = [];
        foreach ($entities as $entity) {
            foreach ($this->filters as $filter) {
                if (!$filter($entity)) {
                    continue 2;
                }
            }
            $matches[] = $entity;
        }
        return $matches;
    }

    private static function valueOf(Entity $entity, string $property): mixed
    {
        if (!property_exists($entity, $property)) {
            throw new \InvalidArgumentException($entity::class . " has no property \$$property");
        }
        return $entity->{$property} ?? null;
    }

    private static function compare(mixed $actual, string $operator, mixed $expected): bool
    {
        return match ($operator) {
            '=', '==' => $actual == $expected,
            '===' => $actual === $expected,
            '!=', '<>' => $actual != $expected,
            '!==' => $actual !== $expected,
            '<' => $actual < $expected,
            '<=' => $actual <= $expected,
            '>' => $actual > $expected,
            '>=' => $actual >= $expected,
            'like' => self::like($actual, $expected),
            'not like' => !self::like($actual, $expected),
        };
    }

    private static function like(mixed $actual, mixed $pattern): bool
    {
        if (!\is_scalar($actual) || !\is_scalar($pattern)) {
            return false;
        }
        $regex = '';
        foreach (preg_split('/([%_])/', (string) $pattern, -1, PREG_SPLIT_DELIM_CAPTURE) ?: [] as $part) {
            $regex .= match ($part) {
                '%' => '.*',
                '_' => '.',
                default => preg_quote($part, '/'),
            };
        }
        return preg_match('/^' . $regex . '$/is', (string) $actual) === 1;
    }
}
