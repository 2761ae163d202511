<?php

declare(strict_types=1);

namespace App\View;

use Symfony\Component\HttpFoundation\Response;

/**
 * Renders a plain-PHP template from templates/ inside templates/layout.php (Twig is not in
 * Debian's Symfony 5.4 set this example sticks to). Templates escape with $e().
 */
final class Page
{
    public function __construct(private readonly string $templateDir = __DIR__ . '/../../templates')
    {
    }

    /** @param array<string, mixed> $data */
    public function render(string $template, string $title, array $data, int $status = 200): Response
    {
        $e = static fn (mixed $value): string => htmlspecialchars((string) $value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
        $content = $this->capture("$template.php", $data + ['e' => $e]);
        $html = $this->capture('layout.php', ['title' => $title, 'content' => $content, 'e' => $e]);
        return new Response($html, $status, ['Content-Type' => 'text/html; charset=utf-8']);
    }

    /** @param array<string, mixed> $data */
    private function capture(string $file, array $data): string
    {
        extract($data, EXTR_SKIP);
        ob_start();
        try {
            require $this->templateDir . '/' . $file;
        } catch (\Throwable $failure) {
            ob_end_clean();
            throw $failure;
        }
        return (string) ob_get_clean();
    }
}
