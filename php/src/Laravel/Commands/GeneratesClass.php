<?php

declare(strict_types=1);

namespace EventSrv\Laravel\Commands;

use Illuminate\Console\GeneratorCommand;
use Symfony\Component\Console\Input\InputOption;

/**
 * What the make:* generators share: a stub from ../stubs/ and a default namespace under App\.
 */
abstract class GeneratesClass extends GeneratorCommand
{
    /** The stub's file name without `.stub`. */
    abstract protected function stubName(): string;

    /** The namespace under the app's root namespace, e.g. `Projectors`. */
    abstract protected function subNamespace(): string;

    protected function getStub(): string
    {
        return \dirname(__DIR__) . '/stubs/' . $this->stubName() . '.stub';
    }

    /** @param string $rootNamespace */
    protected function getDefaultNamespace($rootNamespace): string
    {
        return $rootNamespace . '\\' . $this->subNamespace();
    }

    /** @return list<array<mixed>> */
    protected function getOptions(): array
    {
        return [['force', 'f', InputOption::VALUE_NONE, 'Overwrite the class if it exists']];
    }
}
