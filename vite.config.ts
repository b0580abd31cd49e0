import { vitePlugin as remix } from '@remix-run/dev';
import tailwindcss from '@tailwindcss/vite';
import { defineConfig } from 'vite';

// The console (web/app) builds into build/ and is served by the control plane's own HTTP server
// (src/console/console-mount.ts). Tests use vitest.config.ts, so nothing here affects them.
export default defineConfig({
  plugins: [
    tailwindcss(),
    remix({
      appDirectory: 'web/app',
      buildDirectory: 'build',
      // Every v3 flag on, so moving to React Router 7 is a package swap.
      future: {
        v3_fetcherPersist: true,
        v3_relativeSplatPath: true,
        v3_throwAbortReason: true,
        v3_lazyRouteDiscovery: true,
        v3_singleFetch: true,
        v3_routeConfig: true,
      },
    }),
  ],
  build: { target: 'es2022' },
});
