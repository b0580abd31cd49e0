#!/usr/bin/env node
// The one entry point for `leviathan serve | tick | worker | ctl`. tsx compiles the TypeScript
// sources on the fly so the same tree runs in development, CI and the container image.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
