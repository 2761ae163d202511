<?php

declare(strict_types=1);

namespace EventSrv;

/**
 * Builds entities from events. Runs in the Worker, in global event order, once per event; its
 * entity changes and its checkpoint are committed together, atomically. A replay resets the
 * entity classes listed by entities() and runs the same handlers again from the first event.
 *
 *     final class AccountProjector extends Projector
 *     {
 *         public function entities(): array { return [Account::class]; }
 *
 *         public function onAccountCreated(AccountCreated $event): void
 *         {
 *             $account = new Account();
 *             $account->uuid = $event->meta()->aggregateUuid();
 *             $account->name = $event->name;
 *             $account->balance = 0;
 *             $account->save();
 *         }
 *     }
 *
 * Handlers must only change entities (no mail, no HTTP): those belong in a Reactor.
 */
abstract class Projector extends EventHandler
{
    /**
     * The entity classes this projector owns: emptied when it is replayed.
     *
     * @return list<class-string<Entity>>
     */
    public function entities(): array
    {
        return [];
    }
}
