import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ctl } from '../../src/cli/ctl.ts';
import { DEFAULT_POLICY } from '../../src/contract/policy.ts';
import { envSchema } from '../../src/env.ts';
import { KubernetesJobExecutor } from '../../src/executors/kubernetes-job.ts';
import { podSpecs, podTemplateMeta, renderKustomization, type Obj } from './render-kustomization.ts';

/**
 * The README's deploy steps and operator runbook, checked against what the manifests create:
 * every kubectl command names a resource, label, port, Secret key or path that exists, and every
 * `leviathan ctl` command exists. So the operator document's commands keep working as written.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const objects = renderKustomization(join(ROOT, 'k8s/overlays/dev')).objects.map((r) => r.obj);

function section(title: string): string {
  const start = readme.indexOf(`## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 4);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Shell lines of the code blocks, with `\` continuations joined. */
function commands(text: string): string[] {
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
}

const runbook = [...commands(section('Deploy on Kubernetes')), ...commands(section('Operator runbook'))];
const kubectl = runbook.filter((l) => l.startsWith('kubectl '));

const find = (kind: string, name: string): Obj | undefined => objects.find((o) => o.kind === kind && o.metadata?.name === name);

/** The Job the executor would submit: its labels are what `-l app=leviathan-worker` must match. */
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});
const workerJob = new KubernetesJobExecutor({
  kubeConfig,
  namespace: 'leviathan',
  image: 'ghcr.io/leviathan/leviathan:0.1.0',
  controlPlaneUrl: 'http://leviathan-control-plane:8000',
}).buildJob({
  attempt_id: 'att-1',
  target: 'acme/web',
  installation_id: 1,
  default_branch: 'main',
  task: {
    id: 't',
    title: 't',
    scope: 'docs',
    priority: 'medium',
    ready: true,
    status: 'pending',
    dependencies: [],
    allowed_paths: ['docs/'],
    acceptance_criteria: [],
    estimated_size: 'unknown',
    line: 1,
  },
  policy: { ...DEFAULT_POLICY, sources: {} },
  timeout_seconds: 900,
}) as Obj;

/** Label sets of everything `-l` can select: pod templates, the workloads themselves, worker Jobs. */
const labelled: Array<{ kind: string; labels: Record<string, string> }> = [
  ...objects.flatMap((o) => [
    { kind: o.kind as string, labels: (o.metadata?.labels ?? {}) as Record<string, string> },
    { kind: 'Pod', labels: (podTemplateMeta(o)?.labels ?? {}) as Record<string, string> },
  ]),
  { kind: 'Job', labels: workerJob.metadata.labels },
  { kind: 'Pod', labels: workerJob.spec.template.metadata.labels },
];

describe('README runbook against the manifests', () => {
  it('has kubectl commands to check', () => {
    expect(kubectl.length).toBeGreaterThan(15);
  });

  it.each(kubectl)('%s', (line) => {
    const words = line.split(/\s+/);
    // Everything lives in the namespace the manifests use.
    const ns = words[words.indexOf('-n') + 1];
    if (words.includes('-n')) expect(ns).toBe('leviathan');
    const type = words.includes('get') || words.includes('delete') || words.includes('edit') || words.includes('patch') ? words.find((w) => ['configmap', 'cronjob', 'jobs', 'pods', 'svc'].includes(w)) : undefined;

    for (const [flag, value] of words.map((w, i) => [w, words[i + 1]] as const)) {
      if (flag === '-l') {
        const [key, want] = value!.split('=');
        const kind = type === 'jobs' ? 'Job' : 'Pod';
        expect(labelled.some((l) => l.kind === kind && l.labels[key!] === want), `${kind} with label ${value}`).toBe(true);
      }
      if (flag === '-k' || flag === '-f') expect(existsSync(join(ROOT, value!)), value).toBe(true);
    }
    const named = (kind: string, word: string) => {
      const i = words.indexOf(word);
      if (i >= 0 && words[i + 1] && !words[i + 1]!.startsWith('-')) expect(find(kind, words[i + 1]!), `${kind} ${words[i + 1]}`).toBeDefined();
    };
    if (!words.includes('create')) named('ConfigMap', 'configmap');
    named('CronJob', 'cronjob');
    named('Service', 'svc');

    for (const w of words) {
      const res = /^(svc|deployment)\/([\w-]+)$/.exec(w);
      if (!res) continue;
      const obj = find(res[1] === 'svc' ? 'Service' : 'Deployment', res[2]!);
      expect(obj, w).toBeDefined();
      const forward = words[words.indexOf(w) + 1];
      if (res[1] === 'svc' && forward && /^\d+:\d+$/.test(forward)) {
        const port = Number(forward.split(':')[1]);
        expect((obj!.spec.ports as Array<{ port: number }>).map((p) => p.port), w).toContain(port);
      }
    }

    if (words.includes('patch') && words.includes('cronjob')) {
      const patch = JSON.parse(/-p '(.*)'/.exec(line)![1]!) as { spec: { suspend: boolean } };
      expect(typeof patch.spec.suspend).toBe('boolean');
    }

    if (words[1] === '-n' && words[3] === 'create' && (words[4] === 'secret' || words[4] === 'configmap')) {
      // Every key given is one a pod reads from that Secret (ConfigMap), as an environment variable we parse.
      const ref = words[4] === 'secret' ? 'secretKeyRef' : 'configMapKeyRef';
      const secret = words[words[4] === 'secret' ? 6 : 5]!;
      const keys = words.filter((w) => w.startsWith('--from-')).map((w) => w.split('=')[1]!);
      const referenced = new Set(
        objects
          .flatMap((o) => podSpecs(o))
          .flatMap((spec) => (spec.containers ?? []) as Obj[])
          .flatMap((c) => (c.env ?? []) as Obj[])
          .filter((e) => e.valueFrom?.[ref]?.name === secret)
          .map((e) => e.valueFrom[ref].key as string),
      );
      for (const key of keys) {
        expect(referenced, `${secret} key ${key}`).toContain(key);
        expect(Object.keys(envSchema.shape)).toContain(key);
      }
    }
  });

  it('names the workloads of the operator document', () => {
    expect(find('Deployment', 'leviathan-control-plane')).toBeDefined();
    expect(find('CronJob', 'leviathan-dev-scheduler')?.spec.schedule).toBe('*/5 * * * *');
    expect(find('ConfigMap', 'leviathan-autonomy-config')?.data.autonomy_enabled).toBe('false');
  });

  /** ctl commands the alerts' runbooks tell the on-call to run, with the alert's target filled in. */
  const alertRunbooks = readFileSync(join(ROOT, 'k8s/monitoring/rules/leviathan-rules.yaml'), 'utf8')
    .split('\n')
    .flatMap((l) => [...l.matchAll(/leviathan ctl [^;\n]*/g)].map((m) => m[0].replace(/\{\{ \$labels\.target \}\}/g, 'acme/web').trim()));

  it.each([...runbook.filter((l) => l.startsWith('leviathan ctl ')), ...alertRunbooks])('%s is a ctl command as written', async (line) => {
    const said: string[] = [];
    const io = { out: { write: (s: string) => said.push(s), on: () => undefined }, err: { write: (s: string) => said.push(s) } } as never;
    await ctl(envSchema.parse({}), ['help'], io);
    const command = line.split(/\s+/)[2]!;
    expect(said.join('')).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    // Its arguments pass ctl's own checks: what is left is reaching a control plane (none here),
    // never a usage error (exit 2). Commands that work offline are not run.
    if (['verify', 'compact', 'backup', 'restore', 'help'].includes(command)) return;
    said.length = 0;
    const argv = [...line.slice('leviathan ctl '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    const code = await ctl(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: 'http://127.0.0.1:1', LEVIATHAN_API_TOKEN: 'runbook-check' }), argv, io);
    expect(code, said.join('')).not.toBe(2);
  });

  it('finds the ctl commands of the alert runbooks', () => {
    expect(alertRunbooks.length).toBeGreaterThanOrEqual(4);
  });
});
