<?php

declare(strict_types=1);

namespace EventSrv\Symfony;

use EventSrv\EventTypes;
use EventSrv\Symfony\DependencyInjection\EventSrvExtension;
use Symfony\Component\DependencyInjection\Extension\ExtensionInterface;
use Symfony\Component\HttpKernel\Bundle\Bundle;

/**
 * eventsrv in a Symfony app: register in config/bundles.php (or the kernel's registerBundles()).
 * Services extending EventSrv\Projector or EventSrv\Reactor are tagged automatically
 * (autoconfigure) and run by `bin/console eventsrv:work`; configuration under `eventsrv:`.
 *
 * Bundle + Extension + Configuration rather than AbstractBundle (6.1+), so one class serves
 * Symfony 5.4 (Debian 12) through 7.
 */
final class EventSrvBundle extends Bundle
{
    /** Event type aliases apply to every request and command (reads resolve them both ways). */
    public function boot(): void
    {
        $eventTypes = $this->container?->getParameter('eventsrv.event_types') ?? [];
        if ($eventTypes !== []) {
            EventTypes::register($eventTypes);
        }
    }

    public function getContainerExtension(): ?ExtensionInterface
    {
        return new EventSrvExtension();
    }
}
