<?php

declare(strict_types=1);

namespace App\EventListener;

use EventSrv\ConcurrencyException;
use EventSrv\DaemonUnavailableException;
use EventSrv\RegionException;
use Symfony\Component\EventDispatcher\EventSubscriberInterface;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpKernel\Event\ExceptionEvent;
use Symfony\Component\HttpKernel\Exception\HttpExceptionInterface;
use Symfony\Component\HttpKernel\KernelEvents;

/** What went wrong, as a status code and a sentence: JSON under /api/, text elsewhere. */
final class FailureResponder implements EventSubscriberInterface
{
    public static function getSubscribedEvents(): array
    {
        return [KernelEvents::EXCEPTION => 'onException'];
    }

    public function onException(ExceptionEvent $event): void
    {
        $failure = $event->getThrowable();
        $status = match (true) {
            $failure instanceof ConcurrencyException => 409,
            $failure instanceof \DomainException => 422,
            $failure instanceof DaemonUnavailableException, $failure instanceof RegionException => 503,
            $failure instanceof HttpExceptionInterface => $failure->getStatusCode(),
            default => null,
        };
        if ($status === null) {
            return;
        }
        $message = $failure->getMessage();
        $event->setResponse(str_starts_with($event->getRequest()->getPathInfo(), '/api/')
            ? new JsonResponse(['error' => $message], $status)
            : new Response($message, $status, ['Content-Type' => 'text/plain; charset=utf-8']));
    }
}
