/** One figure of `npm run bench`: a value beside a baseline measured in the same run. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baselineName: string;
  /** value / baseline, oriented so that the target reads naturally. */
  ratio: number;
  target: string;
  /** null for a reference figure, which has no target of its own. */
  met: boolean | null;
}

/** How a scenario hands its rows to the harness. */
export type Report = (row: BenchRow) => void;
