import { appendFileSync } from 'node:fs';

/** One measured figure of the reliability suite, printed in the summary table at the end. */
export interface Figure {
  suite: string;
  figure: string;
  value: number | string;
  /** What the value must be for the property to hold, when there is one (shown beside it). */
  expect?: string;
}

/**
 * Records figures for the end-of-run table. Test workers are separate processes, so figures go
 * to an NDJSON file the global setup created (LEVIATHAN_RELIABILITY_FIGURES).
 */
export function record(suite: string, figures: Record<string, number | string | [number | string, string]>): void {
  const path = process.env.LEVIATHAN_RELIABILITY_FIGURES;
  const lines = Object.entries(figures).map(([figure, v]) => {
    const f: Figure = Array.isArray(v) ? { suite, figure, value: v[0], expect: v[1] } : { suite, figure, value: v };
    return `${JSON.stringify(f)}\n`;
  });
  if (path) appendFileSync(path, lines.join(''));
}
