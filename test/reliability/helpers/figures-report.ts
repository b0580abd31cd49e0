import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Figure } from './figures.ts';

/**
 * Global setup of the reliability suite: creates the figures file the workers append to, and at
 * teardown prints every figure as one table (and writes it as JSON to
 * LEVIATHAN_RELIABILITY_FIGURES_OUT when set, for CI to keep).
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'leviathan-figures-'));
  const path = join(dir, 'figures.ndjson');
  writeFileSync(path, '');
  process.env.LEVIATHAN_RELIABILITY_FIGURES = path;
  const started = Date.now();
  return () => {
    const figures = readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Figure);
    rmSync(dir, { recursive: true, force: true });
    const rows = [['suite', 'figure', 'value', 'must be'], ...figures.map((f) => [f.suite, f.figure, String(f.value), f.expect ?? ''])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    const out = [
      '',
      `Reliability figures (${figures.length}, ${((Date.now() - started) / 1000).toFixed(0)} s wall clock)`,
      line(rows[0]!),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.slice(1).map(line),
      '',
    ].join('\n');
    process.stdout.write(out);
    const outPath = process.env.LEVIATHAN_RELIABILITY_FIGURES_OUT;
    if (outPath) writeFileSync(outPath, `${JSON.stringify(figures, null, 2)}\n`);
  };
}
