#!/usr/bin/env node
// The one entry point for `leviathan serve | tick | worker | ctl`. In a checkout (src/ is there)
// tsx compiles the TypeScript sources on the fly, so a change needs no build step and a stale
// build can never run. The container image ships only the compiled dist/ (`npm run build`): no
// compiler in memory (~15 MB of RSS) and no per-start transpiling.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/cli/main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else {
  await import('../dist/cli/main.js');
}
