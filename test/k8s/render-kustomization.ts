import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * A small kustomize, enough to render `k8s/` in tests where no kustomize binary exists. It
 * implements the fields our kustomizations use — resources (files and directories), namespace,
 * images, patches (strategic merge by `name`, or RFC 6902 with a target), configMapGenerator,
 * generatorOptions, labels — and throws on anything else, so a new field fails the tests loudly
 * instead of being ignored.
 */

 
export type Obj = Record<string, any>;

/** One rendered object and the file it came from (for error messages). */
export interface Rendered {
  obj: Obj;
  source: string;
}

/** Every file a kustomization read, so tests can find YAML that nothing references. */
export interface RenderResult {
  objects: Rendered[];
  filesRead: Set<string>;
}

const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'images',
  'patches',
  'configMapGenerator',
  'generatorOptions',
  'labels',
]);

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass']);

/** Parses a YAML file of one or more documents; empty documents are dropped. */
export function loadYamlFile(path: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  return docs
    .map((d) => {
      if (d.errors.length) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as unknown;
    })
    .filter((d): d is Obj => d !== null && d !== undefined);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Strategic merge restricted to what we patch: maps merge, lists of named objects merge by name, other lists replace. */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (isObj(patch)) {
    if ('$patch' in patch) throw new Error('render-kustomization: $patch directives are not supported');
    const out: Obj = isObj(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = strategicMerge(out[k], v);
    }
    return out;
  }
  if (Array.isArray(patch) && Array.isArray(target) && patch.every((p) => isObj(p) && typeof p.name === 'string')) {
    const out = target.map((t) => structuredClone(t));
    for (const p of patch as Obj[]) {
      const i = out.findIndex((t) => isObj(t) && t.name === p.name);
      if (i >= 0) out[i] = strategicMerge(out[i], p);
      else out.push(structuredClone(p));
    }
    return out;
  }
  return structuredClone(patch);
}

function jsonPointer(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyJson6902(doc: Obj, ops: Obj[]): void {
  for (const op of ops) {
    const tokens = jsonPointer(String(op.path));
    const last = tokens.pop()!;
    let parent: unknown = doc;
    for (const t of tokens) parent = Array.isArray(parent) ? parent[Number(t)] : (parent as Obj)?.[t];
    if (!isObj(parent) && !Array.isArray(parent)) throw new Error(`render-kustomization: path ${op.path} does not exist`);
    if (op.op === 'replace' || op.op === 'add') {
      if (Array.isArray(parent)) {
        if (op.op === 'add') parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else parent[Number(last)] = op.value;
      } else {
        if (op.op === 'replace' && !(last in parent)) throw new Error(`render-kustomization: path ${op.path} does not exist`);
        parent[last] = op.value;
      }
    } else if (op.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else throw new Error(`render-kustomization: JSON patch op ${String(op.op)} not supported`);
  }
}

/** Pod specs inside any workload kind, for the images transformer and for checks. */
export function podSpecs(obj: Obj): Obj[] {
  switch (obj.kind) {
    case 'Pod':
      return [obj.spec];
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      return obj.spec?.template?.spec ? [obj.spec.template.spec] : [];
    case 'CronJob':
      return obj.spec?.jobTemplate?.spec?.template?.spec ? [obj.spec.jobTemplate.spec.template.spec] : [];
    default:
      return [];
  }
}

/** Pod template metadata (where pod labels live) for workload kinds. */
export function podTemplateMeta(obj: Obj): Obj | undefined {
  if (obj.kind === 'CronJob') return obj.spec?.jobTemplate?.spec?.template?.metadata;
  return obj.spec?.template?.metadata;
}

function applyImages(objects: Rendered[], images: Obj[]): void {
  for (const { obj } of objects) {
    for (const spec of podSpecs(obj)) {
      for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])] as Obj[]) {
        const image = String(c.image);
        const at = image.indexOf('@');
        const colon = image.lastIndexOf(':');
        const slash = image.lastIndexOf('/');
        const repo = at >= 0 ? image.slice(0, at) : colon > slash ? image.slice(0, colon) : image;
        const rule = images.find((i) => i.name === repo);
        if (!rule) continue;
        const name = rule.newName ?? repo;
        c.image = rule.digest ? `${name}@${rule.digest}` : `${name}:${rule.newTag ?? (colon > slash && at < 0 ? image.slice(colon + 1) : 'latest')}`;
      }
    }
  }
}

function matchesTarget(obj: Obj, target: Obj): boolean {
  if (target.kind && obj.kind !== target.kind) return false;
  if (target.name && obj.metadata?.name !== target.name) return false;
  if (target.group !== undefined || target.version !== undefined) {
    const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', obj.apiVersion];
    if (target.group !== undefined && target.group !== group) return false;
    if (target.version !== undefined && target.version !== version) return false;
  }
  if (target.labelSelector || target.annotationSelector) throw new Error('render-kustomization: patch selectors by label are not supported');
  return true;
}

/** Renders the kustomization in `dir` (which must contain kustomization.yaml). */
export function renderKustomization(dir: string, filesRead: Set<string> = new Set()): RenderResult {
  const kfile = join(dir, 'kustomization.yaml');
  if (!existsSync(kfile)) throw new Error(`${relative(process.cwd(), dir)} has no kustomization.yaml`);
  filesRead.add(resolve(kfile));
  const [k] = loadYamlFile(kfile);
  if (!k) throw new Error(`${kfile} is empty`);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${kfile}: field "${key}" is not supported by test/k8s/render-kustomization.ts; extend it`);
  }
  const objects: Rendered[] = [];

  for (const entry of (k.resources ?? []) as string[]) {
    if (/^[a-z]+:\/\//i.test(entry)) throw new Error(`${kfile}: remote resource ${entry} is not allowed`);
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${kfile}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      objects.push(...renderKustomization(path, filesRead).objects);
    } else {
      filesRead.add(path);
      for (const obj of loadYamlFile(path)) objects.push({ obj, source: relative(process.cwd(), path) });
    }
  }

  const disableHash = k.generatorOptions?.disableNameSuffixHash === true;
  for (const gen of (k.configMapGenerator ?? []) as Obj[]) {
    if (gen.behavior && gen.behavior !== 'create') throw new Error(`${kfile}: configMapGenerator behavior ${gen.behavior} not supported`);
    const data: Record<string, string> = {};
    for (const f of (gen.files ?? []) as string[]) {
      const [key, rel] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [f.split('/').pop()!, f];
      const path = resolve(dir, rel);
      if (!existsSync(path)) throw new Error(`${kfile}: configMapGenerator file ${rel} does not exist`);
      filesRead.add(path);
      data[key] = readFileSync(path, 'utf8');
    }
    for (const lit of (gen.literals ?? []) as string[]) {
      const i = lit.indexOf('=');
      data[lit.slice(0, i)] = lit.slice(i + 1);
    }
    const options = { ...k.generatorOptions, ...gen.options };
    objects.push({
      obj: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          // Real kustomize appends a content hash unless disabled; the base name is what matters here.
          name: gen.name,
          ...(gen.namespace ? { namespace: gen.namespace } : {}),
          ...(options.labels ? { labels: { ...options.labels } } : {}),
          ...(options.annotations ? { annotations: { ...options.annotations } } : {}),
        },
        data,
      },
      source: `${relative(process.cwd(), kfile)} configMapGenerator${disableHash ? '' : ' (hash suffix not rendered)'}`,
    });
  }

  for (const p of (k.patches ?? []) as Obj[]) {
    let docs: unknown[];
    if (p.path) {
      const path = resolve(dir, p.path);
      if (!existsSync(path)) throw new Error(`${kfile}: patch ${p.path} does not exist`);
      filesRead.add(path);
      docs = loadYamlFile(path);
    } else if (typeof p.patch === 'string') {
      docs = parseAllDocuments(p.patch).map((d) => d.toJS() as unknown);
    } else throw new Error(`${kfile}: patch needs path or patch`);
    if (docs.length !== 1) throw new Error(`${kfile}: a patch must be exactly one document`);
    const doc = docs[0];
    if (Array.isArray(doc)) {
      if (!p.target) throw new Error(`${kfile}: a JSON 6902 patch needs a target`);
      const hits = objects.filter((r) => matchesTarget(r.obj, p.target));
      if (!hits.length) throw new Error(`${kfile}: patch target ${JSON.stringify(p.target)} matches nothing`);
      for (const r of hits) applyJson6902(r.obj, doc as Obj[]);
    } else if (isObj(doc)) {
      const target = p.target ?? { kind: doc.kind, name: doc.metadata?.name };
      const hits = objects.filter((r) => matchesTarget(r.obj, target));
      if (!hits.length) throw new Error(`${kfile}: patch for ${doc.kind}/${doc.metadata?.name} matches nothing`);
      // A whole-object `$patch: delete` removes the resource, as kustomize does.
      if (doc.$patch === 'delete') {
        for (const r of hits) objects.splice(objects.indexOf(r), 1);
        continue;
      }
      for (const r of hits) {
        // Identity fields select the target; only labels and annotations of metadata are merged.
        const { metadata, kind: _k, apiVersion: _a, ...rest } = doc;
        const meta: Obj = {};
        if (metadata?.labels) meta.labels = metadata.labels;
        if (metadata?.annotations) meta.annotations = metadata.annotations;
        r.obj = strategicMerge(r.obj, Object.keys(meta).length ? { ...rest, metadata: meta } : rest) as Obj;
      }
    } else throw new Error(`${kfile}: patch is neither a list of operations nor an object`);
  }

  for (const l of (k.labels ?? []) as Obj[]) {
    if (l.includeSelectors) throw new Error(`${kfile}: labels.includeSelectors is not supported`);
    for (const r of objects) {
      r.obj.metadata = { ...r.obj.metadata, labels: { ...r.obj.metadata?.labels, ...l.pairs } };
      const tmeta = podTemplateMeta(r.obj);
      if (l.includeTemplates && tmeta) tmeta.labels = { ...tmeta.labels, ...l.pairs };
    }
  }

  if (k.images) applyImages(objects, k.images as Obj[]);

  if (k.namespace) {
    for (const r of objects) {
      if (CLUSTER_SCOPED.has(r.obj.kind)) continue;
      r.obj.metadata = { ...r.obj.metadata, namespace: k.namespace };
    }
  }
  return { objects, filesRead };
}

/** Every file under `root` whose name ends in .yaml or .yml. */
export function yamlFilesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of existsSync(d) ? readdirSync(d) : []) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(name)) out.push(resolve(p));
    }
  };
  walk(root);
  return out.sort();
}
