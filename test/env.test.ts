import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envSchema, loadEnv } from '../src/env.ts';

describe('env', () => {
  it('starts with no configuration at all: port 8000, ./data, local executor', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 8000, LEVIATHAN_DATA_DIR: './data', LEVIATHAN_EXECUTOR: 'local' });
  });

  it('treats empty strings as unset and lists every bad variable', () => {
    expect(loadEnv({ LEVIATHAN_METRICS_PORT: '' }).LEVIATHAN_METRICS_PORT).toBeUndefined();
    expect(() => loadEnv({ PORT: 'eighty', LEVIATHAN_EXECUTOR: 'docker' })).toThrow(/PORT[\s\S]*LEVIATHAN_EXECUTOR/);
  });

  it('documents every variable in the README configuration table', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(envSchema.shape).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
