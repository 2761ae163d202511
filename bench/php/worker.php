<?php

/**
 * Worker bootstrap for the bench: the bank example's projector (AccountCreated creates an
 * Account, BalanceIncreased finds it and increments its balance). Reactors are left out.
 */

declare(strict_types=1);

require_once __DIR__ . '/../../examples/bank/autoload.php';

return ['projectors' => [new Bank\AccountProjector()]];
