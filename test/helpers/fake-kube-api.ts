import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * An in-process Kubernetes API server over real HTTP, for the few resources Leviathan uses:
 * batch/v1 Jobs and CronJobs and v1 ConfigMaps and Secrets. It follows the real server where our
 * code could notice a difference: `metav1.Status` error bodies (404 NotFound, 409 AlreadyExists,
 * 422 Invalid, 415 UnsupportedMediaType, 401), DNS-1123 name and label validation, the three PATCH
 * content types with their different semantics, label selectors, DeleteOptions.propagationPolicy,
 * resourceVersion and creationTimestamp; for Secrets, base64 `data`, write-only `stringData` and
 * an immutable `type`. The garbage collector is modelled on `metadata.ownerReferences`: deleting
 * an owner with propagation Background or Foreground deletes what it owns (Orphan, the default
 * for Jobs, strips the reference instead), and an object whose owners all do not exist is
 * deleted at once (the real collector does so shortly after). Not implemented: watches, field
 * selectors, server-side apply (415), finalizers, pagination.
 */

export type Kind = 'Job' | 'CronJob' | 'ConfigMap' | 'Secret';
// Objects are plain JSON as they travel over the wire; tests index into them freely.
 
export type KubeObject = Record<string, any>;

/** One request as the server saw it. `body` is the parsed JSON body, when there was one. */
export interface RecordedRequest {
  method: string;
  /** Path including the query string. */
  path: string;
  contentType: string | undefined;
  body: unknown;
  /** True when the request carried the expected bearer token. */
  authorized: boolean;
}

/** A one-shot failure to inject: the next request matching `method` and `path` gets this Status. */
export interface InjectedFailure {
  method?: string;
  /** Substring of, or pattern for, the request path (with query). */
  path?: string | RegExp;
  code: number;
  reason: string;
  message: string;
  /** Apply the request first, then answer with the failure (a create stored before a timeout). */
  afterApply?: boolean;
}

/** What a Job's status can be set to from a test (what the Job controller would write). */
export type FakeJobStatus =
  | { phase: 'active' }
  | { phase: 'succeeded' }
  | { phase: 'failed'; reason: 'DeadlineExceeded' | 'BackoffLimitExceeded' | string }
  | { phase: 'raw'; status: KubeObject };

/** Handle on a running fake API server. */
export interface FakeKubeApi {
  url: string;
  /** The bearer token the server accepts (and that `kubeConfig` sends). */
  token: string;
  /** Points at `url`, plain HTTP, token auth. */
  kubeConfig: KubeConfig;
  requests: RecordedRequest[];
  objects: {
    get(kind: Kind, namespace: string, name: string): KubeObject | undefined;
    list(kind: Kind, namespace?: string): KubeObject[];
    /** Stores an object as if created through the API (defaults metadata); for test setup. */
    put(kind: Kind, obj: KubeObject): KubeObject;
    delete(kind: Kind, namespace: string, name: string): boolean;
  };
  /** Deletions with the propagation policy each one asked for. */
  deletions: Array<{ kind: Kind; namespace: string; name: string; propagationPolicy: string | undefined }>;
  /** Objects the garbage collector deleted, with the uid of the owner whose deletion took them. */
  collected: Array<{ kind: Kind; namespace: string; name: string; owner: string }>;
  setJobStatus(namespace: string, name: string, status: FakeJobStatus): void;
  failNext(failure: InjectedFailure): void;
  close(): Promise<void>;
}

interface Route {
  kind: Kind;
  group: string;
  resource: string;
  namespace: string;
  name: string | undefined;
}

/** Thrown inside handlers; rendered as a metav1.Status. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: KubeObject,
  ) {
    super(message);
  }
}

const KIND_INFO: Record<Kind, { apiVersion: string; group: string; resource: string; listKind: string }> = {
  Job: { apiVersion: 'batch/v1', group: 'batch', resource: 'jobs', listKind: 'JobList' },
  CronJob: { apiVersion: 'batch/v1', group: 'batch', resource: 'cronjobs', listKind: 'CronJobList' },
  ConfigMap: { apiVersion: 'v1', group: '', resource: 'configmaps', listKind: 'ConfigMapList' },
  Secret: { apiVersion: 'v1', group: '', resource: 'secrets', listKind: 'SecretList' },
};

/** Core (`/api/v1`) resources by their path segment. */
const CORE_KINDS: Record<string, Kind> = { configmaps: 'ConfigMap', secrets: 'Secret' };

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
// Go's encoding/json decodes []byte with standard, padded base64.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const MERGE_PATCH = 'application/merge-patch+json';
const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

function statusBody(code: number, reason: string, message: string, details?: KubeObject): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function qualified(route: { resource: string; group: string }): string {
  return route.group ? `${route.resource}.${route.group}` : route.resource;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function isPlainObject(value: unknown): value is KubeObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON Merge Patch: objects merge recursively, `null` deletes, anything else replaces (arrays too). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: KubeObject = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new StatusError(422, 'Invalid', `invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, tokens: string[]): unknown {
  let cur: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isPlainObject(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

function parentOf(doc: unknown, tokens: string[], op: string): { parent: KubeObject | unknown[]; key: string } {
  const parent = getAt(doc, tokens.slice(0, -1));
  const key = tokens[tokens.length - 1];
  if (key === undefined || (!Array.isArray(parent) && !isPlainObject(parent))) {
    throw new StatusError(422, 'Invalid', `${op} operation does not apply: doc is missing path: "/${tokens.join('/')}"`);
  }
  return { parent, key };
}

function removeAt(doc: unknown, tokens: string[], op: string): unknown {
  const { parent, key } = parentOf(doc, tokens, op);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) {
      throw new StatusError(422, 'Invalid', `${op} operation does not apply: doc is missing path: "/${tokens.join('/')}"`);
    }
    return parent.splice(i, 1)[0];
  }
  if (!(key in parent)) {
    throw new StatusError(422, 'Invalid', `${op} operation does not apply: doc is missing path: "/${tokens.join('/')}"`);
  }
  const old = parent[key];
  delete parent[key];
  return old;
}

function addAt(doc: unknown, tokens: string[], value: unknown, op: string): unknown {
  if (tokens.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, tokens, op);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) {
      throw new StatusError(422, 'Invalid', `${op} operation does not apply: index out of range: "/${tokens.join('/')}"`);
    }
    parent.splice(i, 0, clone(value));
  } else {
    parent[key] = clone(value);
  }
  return doc;
}

/** RFC 6902 JSON Patch (add, remove, replace, move, copy, test). */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) {
    // What the real server answers when a merge-style object is sent as a JSON Patch.
    throw new StatusError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  }
  let doc = clone(target);
  for (const raw of ops) {
    if (!isPlainObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new StatusError(422, 'Invalid', `invalid JSON patch operation ${JSON.stringify(raw)}`);
    }
    const tokens = decodePointer(raw.path);
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, tokens, raw.value, 'add');
        break;
      case 'remove':
        removeAt(doc, tokens, 'remove');
        break;
      case 'replace':
        if (tokens.length === 0) doc = clone(raw.value);
        else {
          removeAt(doc, tokens, 'replace');
          doc = addAt(doc, tokens, raw.value, 'replace');
        }
        break;
      case 'move': {
        const from = decodePointer(String(raw.from));
        const value = removeAt(doc, from, 'move');
        doc = addAt(doc, tokens, value, 'move');
        break;
      }
      case 'copy': {
        const value = getAt(doc, decodePointer(String(raw.from)));
        if (value === undefined) throw new StatusError(422, 'Invalid', `copy operation does not apply: doc is missing from path: ${String(raw.from)}`);
        doc = addAt(doc, tokens, value, 'copy');
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(doc, tokens)) !== JSON.stringify(raw.value)) {
          throw new StatusError(422, 'Invalid', `testing value ${raw.path} failed: test failed`);
        }
        break;
      default:
        throw new StatusError(422, 'Invalid', `Unexpected kind: ${raw.op}`);
    }
  }
  return doc;
}

type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

/** Parses a label selector (`a=b,c!=d,e in (f,g),!h,i`) the way the API server does; invalid → 400. */
export function parseLabelSelector(selector: string): Requirement[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const reqs: Requirement[] = [];
  for (const part of parts.map((p) => p.trim()).filter(Boolean)) {
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      reqs.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) });
    } else if ((m = part.match(/^([^=!\s]+)\s*!=\s*(\S*)$/))) {
      reqs.push({ key: m[1]!, op: 'neq', value: m[2]! });
    } else if ((m = part.match(/^([^=!\s]+)\s*==?\s*(\S*)$/))) {
      reqs.push({ key: m[1]!, op: 'eq', value: m[2]! });
    } else if ((m = part.match(/^!([^=!\s]+)$/))) {
      reqs.push({ key: m[1]!, op: 'notexists' });
    } else if ((m = part.match(/^([^=!\s()]+)$/))) {
      reqs.push({ key: m[1]!, op: 'exists' });
    } else {
      throw new StatusError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(part)}`);
    }
  }
  for (const r of reqs) {
    const values = r.op === 'eq' || r.op === 'neq' ? [r.value] : r.op === 'in' || r.op === 'notin' ? r.values : [];
    if (!validLabelKey(r.key) || values.some((v) => v.length > 63 || !LABEL_VALUE.test(v))) {
      throw new StatusError(400, 'BadRequest', `unable to parse requirement: invalid label selector ${JSON.stringify(selector)}`);
    }
  }
  return reqs;
}

function matches(labels: Record<string, string>, reqs: Requirement[]): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'neq':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

function validLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}

interface Cause {
  reason: string;
  message: string;
  field: string;
}

function validateLabels(labels: unknown, field: string, causes: Cause[]): void {
  if (labels === undefined) return;
  if (!isPlainObject(labels)) {
    causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: must be a map', field });
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    if (!validLabelKey(k)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'`, field });
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
      causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, and at most 63 characters`, field: `${field}` });
    }
  }
}

function validatePodSpec(spec: unknown, field: string, causes: Cause[], restartPolicies: string[]): void {
  if (!isPlainObject(spec)) {
    causes.push({ reason: 'FieldValueRequired', message: 'Required value', field });
    return;
  }
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: `${field}.containers` });
  } else {
    containers.forEach((c: unknown, i: number) => {
      const cf = `${field}.containers[${i}]`;
      if (!isPlainObject(c) || typeof c.name !== 'string' || !DNS1123_LABEL.test(c.name)) {
        causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: container name must be a DNS-1123 label', field: `${cf}.name` });
      }
      if (!isPlainObject(c) || typeof c.image !== 'string' || c.image === '') {
        causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: `${cf}.image` });
      }
    });
  }
  const rp = spec.restartPolicy;
  if (rp !== undefined && !restartPolicies.includes(String(rp))) {
    causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: "${String(rp)}": supported values: ${restartPolicies.map((p) => `"${p}"`).join(', ')}`, field: `${field}.restartPolicy` });
  }
}

function validate(kind: Kind, obj: KubeObject, name: string): Cause[] {
  const causes: Cause[] = [];
  const subdomain = kind === 'ConfigMap' || kind === 'Secret';
  const maxName = subdomain ? 253 : kind === 'CronJob' ? 52 : 63;
  // Jobs copy their name into the pods' `job-name` label, so the server limits them to 63.
  const pattern = subdomain ? DNS1123_SUBDOMAIN : DNS1123_LABEL;
  if (!name) causes.push({ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' });
  else if (name.length > maxName || !pattern.test(name)) {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${name}": a lowercase RFC 1123 ${subdomain ? 'subdomain' : 'label'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (at most ${maxName} characters)`,
      field: 'metadata.name',
    });
  }
  validateLabels(obj.metadata?.labels, 'metadata.labels', causes);
  validateOwnerReferences(obj.metadata?.ownerReferences, causes);
  if (kind === 'Job') {
    const spec = obj.spec;
    validateLabels(spec?.template?.metadata?.labels, 'spec.template.metadata.labels', causes);
    validatePodSpec(spec?.template?.spec, 'spec.template.spec', causes, ['Never', 'OnFailure']);
    if (spec?.template?.spec && spec.template.spec.restartPolicy === undefined) {
      causes.push({ reason: 'FieldValueRequired', message: 'Required value: restartPolicy must be Never or OnFailure for a Job', field: 'spec.template.spec.restartPolicy' });
    }
    for (const f of ['activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished'] as const) {
      const v = spec?.[f];
      if (v !== undefined && (!Number.isInteger(v) || v < (f === 'activeDeadlineSeconds' ? 1 : 0))) {
        causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(v)}`, field: `spec.${f}` });
      }
    }
  }
  if (kind === 'CronJob') {
    const spec = obj.spec;
    if (typeof spec?.schedule !== 'string' || spec.schedule.trim() === '') {
      causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.schedule' });
    }
    if (spec?.suspend !== undefined && typeof spec.suspend !== 'boolean') {
      causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(spec.suspend)}: must be a boolean`, field: 'spec.suspend' });
    }
    validatePodSpec(spec?.jobTemplate?.spec?.template?.spec, 'spec.jobTemplate.spec.template.spec', causes, ['Never', 'OnFailure']);
  }
  if (kind === 'ConfigMap' && obj.data !== undefined) {
    if (!isPlainObject(obj.data) || Object.values(obj.data).some((v) => typeof v !== 'string')) {
      causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: data values must be strings', field: 'data' });
    }
  }
  if (kind === 'Secret') {
    for (const k of Object.keys(isPlainObject(obj.data) ? obj.data : {})) {
      if (!CONFIG_KEY.test(k)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`, field: `data[${k}]` });
    }
  }
  return causes;
}

function validateOwnerReferences(refs: unknown, causes: Cause[]): void {
  if (refs === undefined || refs === null) return;
  if (!Array.isArray(refs)) {
    causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: must be a list', field: 'metadata.ownerReferences' });
    return;
  }
  for (const ref of refs as unknown[]) {
    const r = isPlainObject(ref) ? ref : {};
    for (const f of ['apiVersion', 'kind', 'name', 'uid'] as const) {
      if (typeof r[f] !== 'string' || r[f] === '') causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "": ${f} must not be empty`, field: `metadata.ownerReferences.${f}` });
    }
  }
  if (refs.filter((r) => isPlainObject(r) && r.controller === true).length > 1) {
    causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: Only one reference can have Controller set to true', field: 'metadata.ownerReferences' });
  }
}

/**
 * What the API server does to a Secret before storing it: `stringData` is written over `data`
 * (base64-encoded) and dropped, `type` defaults to Opaque. Invalid base64 in `data` is a decoding
 * error of the request (400), as for the real server.
 */
function normaliseSecret(obj: KubeObject): void {
  const data: KubeObject = isPlainObject(obj.data) ? obj.data : {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' || !BASE64.test(v)) {
      throw new StatusError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[${k}]`);
    }
  }
  if (isPlainObject(obj.stringData)) {
    for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
  }
  delete obj.stringData;
  if (Object.keys(data).length > 0) obj.data = data;
  if (obj.type === undefined || obj.type === '') obj.type = 'Opaque';
}

function invalid(kind: Kind, name: string, causes: Cause[]): StatusError {
  const info = KIND_INFO[kind];
  const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return new StatusError(422, 'Invalid', `${kind}.${info.group || 'core'} "${name}" is invalid: ${summary}`, {
    name,
    ...(info.group ? { group: info.group } : {}),
    kind,
    causes,
  });
}

function parseRoute(pathname: string): Route | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // /apis/batch/v1/namespaces/{ns}/{resource}[/{name}]
  if (parts[0] === 'apis' && parts[1] === 'batch' && parts[2] === 'v1' && parts[3] === 'namespaces' && parts.length >= 6 && parts.length <= 7) {
    const resource = parts[5]!;
    const kind = resource === 'jobs' ? 'Job' : resource === 'cronjobs' ? 'CronJob' : undefined;
    if (!kind) return undefined;
    return { kind, group: 'batch', resource, namespace: parts[4]!, name: parts[6] };
  }
  // /api/v1/namespaces/{ns}/{configmaps|secrets}[/{name}]
  const core = parts[4] === undefined ? undefined : CORE_KINDS[parts[4]];
  if (parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'namespaces' && core && parts.length >= 5 && parts.length <= 6) {
    return { kind: core, group: '', resource: parts[4]!, namespace: parts[3]!, name: parts[5] };
  }
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeKubeApi(options: { token?: string } = {}): Promise<FakeKubeApi> {
  const token = options.token ?? `fake-token-${randomUUID()}`;
  const store = new Map<string, KubeObject>();
  const requests: RecordedRequest[] = [];
  const deletions: FakeKubeApi['deletions'] = [];
  const collected: FakeKubeApi['collected'] = [];
  const failures: InjectedFailure[] = [];
  let resourceVersion = 1000;

  const key = (kind: Kind, ns: string, name: string) => `${kind}/${ns}/${name}`;
  const nextVersion = () => String(++resourceVersion);

  function admit(kind: Kind, namespace: string, input: KubeObject): KubeObject {
    const info = KIND_INFO[kind];
    const obj = clone(input);
    obj.apiVersion = info.apiVersion;
    obj.kind = kind;
    const uid = randomUUID();
    obj.metadata = {
      ...obj.metadata,
      namespace,
      uid,
      resourceVersion: nextVersion(),
      generation: 1,
      creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    if (kind === 'Job') {
      // What the Job controller's defaulting adds; the selector ties the pods to this Job.
      obj.spec = { completions: 1, parallelism: 1, ...obj.spec };
      obj.spec.selector ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
      obj.spec.template.metadata ??= {};
      obj.spec.template.metadata.labels = {
        ...obj.spec.template.metadata.labels,
        'batch.kubernetes.io/controller-uid': uid,
        'batch.kubernetes.io/job-name': obj.metadata.name,
        'controller-uid': uid,
        'job-name': obj.metadata.name,
      };
      obj.status ??= {};
    }
    if (kind === 'CronJob') {
      obj.spec = { concurrencyPolicy: 'Allow', suspend: false, ...obj.spec };
      obj.status ??= {};
    }
    if (kind === 'Secret') normaliseSecret(obj);
    return obj;
  }

  const uidExists = (namespace: string, uid: unknown) => [...store.values()].some((o) => o.metadata.namespace === namespace && o.metadata.uid === uid);

  /**
   * The garbage collector, after owner `uid` was deleted: with `cascade`, dependents left with no
   * existing owner are deleted (and their own dependents after them); otherwise (Orphan) the
   * reference to the owner is removed and the dependent stays.
   */
  function collect(namespace: string, uid: string, cascade: boolean): void {
    for (const [k, o] of [...store.entries()]) {
      const refs: KubeObject[] = o.metadata.ownerReferences ?? [];
      if (o.metadata.namespace !== namespace || !refs.some((r) => r.uid === uid)) continue;
      const rest = refs.filter((r) => r.uid !== uid);
      if (cascade && !rest.some((r) => uidExists(namespace, r.uid))) {
        store.delete(k);
        collected.push({ kind: o.kind, namespace, name: o.metadata.name, owner: uid });
        collect(namespace, o.metadata.uid, true);
      } else {
        if (rest.length > 0) o.metadata.ownerReferences = rest;
        else delete o.metadata.ownerReferences;
        o.metadata.resourceVersion = nextVersion();
      }
    }
  }

  /** Stores an object, unless every owner it names is missing: then the collector takes it at once. */
  function save(k: string, obj: KubeObject): void {
    store.set(k, obj);
    const refs: KubeObject[] = obj.metadata.ownerReferences ?? [];
    if (refs.length > 0 && !refs.some((r) => uidExists(obj.metadata.namespace, r.uid))) {
      store.delete(k);
      collected.push({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, owner: String(refs[0]!.uid) });
    }
  }

  const objects: FakeKubeApi['objects'] = {
    get: (kind, ns, name) => {
      const o = store.get(key(kind, ns, name));
      return o ? clone(o) : undefined;
    },
    list: (kind, ns) =>
      [...store.values()].filter((o) => o.kind === kind && (ns === undefined || o.metadata.namespace === ns)).map(clone),
    put: (kind, obj) => {
      const ns = obj.metadata?.namespace ?? 'default';
      const admitted = admit(kind, ns, obj);
      if (obj.status) admitted.status = clone(obj.status);
      store.set(key(kind, ns, admitted.metadata.name), admitted);
      return clone(admitted);
    },
    delete: (kind, ns, name) => store.delete(key(kind, ns, name)),
  };

  function handle(method: string, route: Route, url: URL, contentType: string | undefined, body: unknown): { code: number; body: KubeObject } {
    const info = KIND_INFO[route.kind];
    const notFound = (name: string) =>
      new StatusError(404, 'NotFound', `${qualified(route)} "${name}" not found`, {
        name,
        ...(route.group ? { group: route.group } : {}),
        kind: route.resource,
      });

    if (route.name === undefined) {
      if (method === 'GET') {
        const selector = url.searchParams.get('labelSelector');
        const reqs = selector ? parseLabelSelector(selector) : [];
        const items = [...store.values()]
          .filter((o) => o.kind === route.kind && o.metadata.namespace === route.namespace)
          .filter((o) => matches(o.metadata.labels ?? {}, reqs))
          .sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)))
          .map((o) => {
            // List items carry neither kind nor apiVersion on the wire.
            const { kind: _k, apiVersion: _a, ...rest } = clone(o);
            return rest;
          });
        return {
          code: 200,
          body: { kind: info.listKind, apiVersion: info.apiVersion, metadata: { resourceVersion: String(resourceVersion) }, items },
        };
      }
      if (method === 'POST') {
        if (!isPlainObject(body)) throw new StatusError(400, 'BadRequest', 'the body of the request was in an unknown format');
        if (body.kind !== undefined && body.kind !== route.kind) {
          throw new StatusError(400, 'BadRequest', `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${info.apiVersion})`);
        }
        const ns = body.metadata?.namespace;
        if (ns !== undefined && ns !== route.namespace) {
          throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        const name = String(body.metadata?.name ?? '');
        if (route.kind === 'Secret') normaliseSecret(body);
        const causes = validate(route.kind, body, name);
        if (causes.length) throw invalid(route.kind, name, causes);
        if (store.has(key(route.kind, route.namespace, name))) {
          throw new StatusError(409, 'AlreadyExists', `${qualified(route)} "${name}" already exists`, {
            name,
            ...(route.group ? { group: route.group } : {}),
            kind: route.resource,
          });
        }
        const obj = admit(route.kind, route.namespace, body);
        save(key(route.kind, route.namespace, name), obj);
        return { code: 201, body: clone(obj) };
      }
      throw new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }

    const k = key(route.kind, route.namespace, route.name);
    const existing = store.get(k);
    if (method === 'GET') {
      if (!existing) throw notFound(route.name);
      return { code: 200, body: clone(existing) };
    }
    if (method === 'DELETE') {
      if (!existing) throw notFound(route.name);
      const opts = isPlainObject(body) ? body : {};
      const propagationPolicy = (opts.propagationPolicy as string | undefined) ?? url.searchParams.get('propagationPolicy') ?? undefined;
      if (propagationPolicy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(propagationPolicy)) {
        throw new StatusError(422, 'Invalid', `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${propagationPolicy}"`);
      }
      store.delete(k);
      deletions.push({ kind: route.kind, namespace: route.namespace, name: route.name, propagationPolicy });
      // Jobs alone keep the old default of orphaning what they own (kubectl asks for Background).
      const policy = propagationPolicy ?? (route.kind === 'Job' ? 'Orphan' : 'Background');
      collect(route.namespace, existing.metadata.uid, policy !== 'Orphan');
      return {
        code: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: route.name, ...(route.group ? { group: route.group } : {}), kind: route.resource, uid: existing.metadata.uid },
        },
      };
    }
    if (method === 'PATCH') {
      const type = contentType?.split(';')[0]?.trim();
      if (type !== MERGE_PATCH && type !== STRATEGIC_MERGE_PATCH && type !== JSON_PATCH) {
        throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH}`);
      }
      if (!existing) throw notFound(route.name);
      let patched: unknown;
      if (type === JSON_PATCH) patched = applyJsonPatch(existing, body);
      else {
        if (!isPlainObject(body)) throw new StatusError(400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}');
        // Strategic merge only differs from RFC 7386 for lists with merge keys; our callers never patch those.
        patched = applyMergePatch(existing, body);
      }
      if (!isPlainObject(patched)) throw new StatusError(422, 'Invalid', 'patched object is not an object');
      const sentVersion = (type === JSON_PATCH ? undefined : (body as KubeObject).metadata?.resourceVersion) as string | undefined;
      if (sentVersion !== undefined && sentVersion !== existing.metadata.resourceVersion) {
        throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(route)} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      // Identity fields are the server's, whatever the patch said.
      patched.metadata = {
        ...patched.metadata,
        name: existing.metadata.name,
        namespace: existing.metadata.namespace,
        uid: existing.metadata.uid,
        creationTimestamp: existing.metadata.creationTimestamp,
        resourceVersion: nextVersion(),
        generation: JSON.stringify(patched.spec) !== JSON.stringify(existing.spec) ? existing.metadata.generation + 1 : existing.metadata.generation,
      };
      patched.kind = route.kind;
      patched.apiVersion = info.apiVersion;
      if (route.kind === 'Secret') {
        normaliseSecret(patched);
        if (patched.type !== existing.type) {
          throw invalid(route.kind, route.name, [{ reason: 'FieldValueInvalid', message: `Invalid value: "${String(patched.type)}": field is immutable`, field: 'type' }]);
        }
      }
      const causes = validate(route.kind, patched, route.name);
      if (causes.length) throw invalid(route.kind, route.name, causes);
      save(k, patched);
      return { code: 200, body: clone(patched) };
    }
    throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://fake');
      const contentType = req.headers['content-type'];
      const raw = await readBody(req);
      let body: unknown;
      let unparseable = false;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          unparseable = true;
        }
      }
      const authorized = req.headers.authorization === `Bearer ${token}`;
      requests.push({ method, path: url.pathname + url.search, contentType, body, authorized });
      const send = (code: number, payload: KubeObject) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      try {
        if (!authorized) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
        const fi = failures.findIndex(
          (f) =>
            (f.method === undefined || f.method.toUpperCase() === method) &&
            (f.path === undefined || (typeof f.path === 'string' ? (url.pathname + url.search).includes(f.path) : f.path.test(url.pathname + url.search))),
        );
        if (fi >= 0) {
          const [f] = failures.splice(fi, 1);
          if (f!.afterApply) {
            const route = parseRoute(url.pathname);
            if (route) handle(method, route, url, contentType, body);
          }
          throw new StatusError(f!.code, f!.reason, f!.message);
        }
        if (unparseable) throw new StatusError(400, 'BadRequest', 'the body of the request was in an unknown format');
        const route = parseRoute(url.pathname);
        if (!route) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
        const result = handle(method, route, url, contentType, body);
        send(result.code, result.body);
      } catch (err) {
        if (err instanceof StatusError) send(err.code, statusBody(err.code, err.reason, err.message, err.details));
        else send(500, statusBody(500, 'InternalError', `fake API server bug: ${String(err)}`));
      }
    })();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace: 'leviathan' }],
    currentContext: 'fake',
  });

  return {
    url,
    token,
    kubeConfig,
    requests,
    objects,
    deletions,
    collected,
    setJobStatus(namespace, name, status) {
      const job = store.get(key('Job', namespace, name));
      if (!job) throw new Error(`fake-kube-api: no Job ${namespace}/${name}`);
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const startTime = job.status?.startTime ?? now;
      switch (status.phase) {
        case 'active':
          job.status = { active: 1, ready: 1, startTime };
          break;
        case 'succeeded':
          job.status = {
            succeeded: 1,
            startTime,
            completionTime: now,
            conditions: [{ type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now }],
          };
          break;
        case 'failed':
          job.status = {
            failed: 1,
            startTime,
            conditions: [
              {
                type: 'Failed',
                status: 'True',
                reason: status.reason,
                message: status.reason === 'DeadlineExceeded' ? 'Job was active longer than specified deadline' : 'Job has reached the specified backoff limit',
                lastProbeTime: now,
                lastTransitionTime: now,
              },
            ],
          };
          break;
        case 'raw':
          job.status = clone(status.status);
          break;
      }
      job.metadata.resourceVersion = nextVersion();
    },
    failNext(failure) {
      failures.push(failure);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
