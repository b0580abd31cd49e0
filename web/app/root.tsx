import type { LinksFunction, MetaFunction } from '@remix-run/node';
import { Links, Meta, Outlet, Scripts, ScrollRestoration, isRouteErrorResponse, useRouteError } from '@remix-run/react';
import type { ReactNode } from 'react';
import styles from './app.css?url';

export const links: LinksFunction = () => [
  { rel: 'stylesheet', href: styles },
  // An inline icon: no extra request, no 404 for /favicon.ico.
  { rel: 'icon', href: 'data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"%3E%3Ccircle cx="8" cy="8" r="7" fill="%230f766e"/%3E%3C/svg%3E' },
];

export const meta: MetaFunction = () => [{ title: 'Leviathan' }];

export function Layout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body className="min-h-screen bg-slate-50 text-slate-900 antialiased">
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const message = isRouteErrorResponse(error)
    ? typeof error.data === 'string'
      ? error.data
      : ((error.data as { error?: { message?: string } } | null)?.error?.message ?? error.statusText)
    : 'Something went wrong; see the control plane logs.';
  return (
    <main className="mx-auto max-w-2xl p-8">
      <h1 className="text-xl font-semibold">Error {status}</h1>
      <p className="mt-2 text-slate-700">{message}</p>
      <p className="mt-4">
        <a className="text-teal-700 underline" href="/">
          Back to the dashboard
        </a>
      </p>
    </main>
  );
}
