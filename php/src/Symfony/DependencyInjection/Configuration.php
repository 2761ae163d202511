<?php

declare(strict_types=1);

namespace EventSrv\Symfony\DependencyInjection;

use Symfony\Component\Config\Definition\Builder\TreeBuilder;
use Symfony\Component\Config\Definition\ConfigurationInterface;

/**
 * The `eventsrv:` configuration tree:
 *
 *     eventsrv:
 *         event_types: { App\Event\AccountCreated: account.created }
 *         worker: { batch_size: 1000, sleep_ms: 1000, memory_limit: 128, max_time: 0, max_events: 0 }
 *
 * The daemon socket and region path are the extension's ini settings, not bundle configuration.
 */
final class Configuration implements ConfigurationInterface
{
    public function getConfigTreeBuilder(): TreeBuilder
    {
        $tree = new TreeBuilder('eventsrv');
        $tree->getRootNode()
            ->children()
                ->arrayNode('event_types')
                    ->info('Stable stored names for event classes: class => name')
                    ->useAttributeAsKey('class')
                    ->scalarPrototype()->end()
                ->end()
                ->arrayNode('worker')
                    ->info('Defaults of eventsrv:work; each has an option to override it')
                    ->addDefaultsIfNotSet()
                    ->children()
                        ->integerNode('batch_size')->min(1)->max(10000)->defaultValue(1000)->end()
                        ->integerNode('sleep_ms')->min(1)->defaultValue(1000)->end()
                        ->integerNode('memory_limit')->min(0)->defaultValue(128)->info('MB; 0: no limit')->end()
                        ->integerNode('max_time')->min(0)->defaultValue(0)->info('seconds; 0: no limit')->end()
                        ->integerNode('max_events')->min(0)->defaultValue(0)->info('0: no limit')->end()
                    ->end()
                ->end()
            ->end();
        return $tree;
    }
}
