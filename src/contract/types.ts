/**
 * The target repository contract (../shared/spec/target-contract.md) as types. The parsers in
 * this folder turn `.leviathan/*.yaml` into these; the scheduler and worker only see these.
 */

export type Priority = 'high' | 'medium' | 'low';
export type TaskStatus = 'pending' | 'in_progress' | 'completed' | 'blocked' | 'failed';

/** One task of `.leviathan/backlog.yaml`, defaults applied. */
export interface BacklogTask {
  id: string;
  title: string;
  scope: string;
  priority: Priority;
  ready: boolean;
  status: TaskStatus;
  dependencies: string[];
  /** Entries ending in `/` are directory prefixes; others are exact files. Never empty. */
  allowed_paths: string[];
  acceptance_criteria: string[];
  estimated_size: string;
  description?: string;
  labels?: string[];
  /** 1-based line of the task in the file, for error messages and the console. */
  line: number;
}

/** The per-target guardrails (numbers the scheduler enforces). */
export interface Guardrails {
  max_open_prs: number;
  circuit_breaker: { consecutive_failures: number; cooldown_minutes: number };
  attempt_timeout_minutes: number;
  max_attempts_per_task: number;
  max_concurrent_attempts: number;
  /** null: no daily limit. */
  max_tasks_per_day: number | null;
}

/** Effective guardrails and path rules for one target; every value says where it came from. */
export interface EffectivePolicy extends Guardrails {
  /** scope → globs (from policy.yaml `allowed_paths`). */
  allowed_paths: Record<string, string[]>;
  /** Globs always refused; the defaults are always included. */
  forbidden_paths: string[];
  /** scope → max files changed in one task. */
  max_files_per_task: Record<string, number>;
  /** For each key above (dotted path), where its value came from. */
  sources: Record<string, 'default' | 'global' | 'policy.yaml' | 'backlog.yaml'>;
}

/** `.leviathan/contract.yaml`: informational, shown on the target page and given to the agent. */
export interface TargetContract {
  name?: string;
  purpose?: string;
  definition_of_done?: string[];
  safety?: unknown;
  scope?: unknown;
  quality_gates?: string[];
}
