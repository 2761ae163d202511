<?php

declare(strict_types=1);

namespace EventSrv\Symfony\DependencyInjection;

use EventSrv\Projector;
use EventSrv\ProjectorStatus;
use EventSrv\Reactor;
use EventSrv\Symfony\Command\ProjectorStatusCommand;
use EventSrv\Symfony\Command\ReplayCommand;
use EventSrv\Symfony\Command\StatusCommand;
use EventSrv\Symfony\Command\WorkCommand;
use EventSrv\Symfony\Handlers;
use Symfony\Component\DependencyInjection\Argument\TaggedIteratorArgument;
use Symfony\Component\DependencyInjection\ContainerBuilder;
use Symfony\Component\DependencyInjection\Definition;
use Symfony\Component\DependencyInjection\Extension\Extension;
use Symfony\Component\DependencyInjection\Reference;

/**
 * Registers the bundle's services: the handler lists (services tagged eventsrv.projector /
 * eventsrv.reactor, which autoconfiguration does for every Projector / Reactor service), the
 * console commands (the operator's retry, pause and resume among them), and the event type
 * aliases.
 */
final class EventSrvExtension extends Extension
{
    public const PROJECTOR_TAG = 'eventsrv.projector';
    public const REACTOR_TAG = 'eventsrv.reactor';

    /** The operator's status changes: command name => [status it sets, description]. */
    public const OPERATOR_COMMANDS = [
        'eventsrv:retry' => [
            ProjectorStatus::ACTIVE,
            'Run a failed eventsrv projector again from the event it failed on',
        ],
        'eventsrv:pause' => [ProjectorStatus::PAUSED, 'Stop running an eventsrv projector until it is resumed'],
        'eventsrv:resume' => [ProjectorStatus::ACTIVE, 'Run a paused eventsrv projector again from its checkpoint'],
    ];

    public function getAlias(): string
    {
        return 'eventsrv';
    }

    /** @param array<array<string, mixed>> $configs */
    public function load(array $configs, ContainerBuilder $container): void
    {
        $config = $this->processConfiguration(new Configuration(), $configs);

        $container->setParameter('eventsrv.event_types', $config['event_types']);

        $container->registerForAutoconfiguration(Projector::class)->addTag(self::PROJECTOR_TAG);
        $container->registerForAutoconfiguration(Reactor::class)->addTag(self::REACTOR_TAG);

        $container->setDefinition(Handlers::class, new Definition(Handlers::class, [
            new TaggedIteratorArgument(self::PROJECTOR_TAG),
            new TaggedIteratorArgument(self::REACTOR_TAG),
        ]))->setPublic(true);

        $commands = [
            WorkCommand::class => ['eventsrv:work', [new Reference(Handlers::class), $config['worker']]],
            ReplayCommand::class => ['eventsrv:replay', [new Reference(Handlers::class)]],
            StatusCommand::class => ['eventsrv:status', [new Reference(Handlers::class)]],
        ];
        foreach ($commands as $class => [$name, $arguments]) {
            $container->setDefinition($class, new Definition($class, $arguments))
                ->addTag('console.command', ['command' => $name]);
        }
        foreach (self::OPERATOR_COMMANDS as $name => [$status, $description]) {
            $arguments = [new Reference(Handlers::class), $name, $status, $description];
            $definition = new Definition(ProjectorStatusCommand::class, $arguments);
            $container->setDefinition("eventsrv.command.$name", $definition)
                ->addTag('console.command', ['command' => $name, 'description' => $description]);
        }
    }
}
