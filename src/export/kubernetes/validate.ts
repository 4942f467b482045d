/**
 * Validates exported objects against the resources' own schemas (schemas/kubernetes/, see its README).
 * Loading makes them behave like the API server with strict field validation: unknown fields are errors
 * (additionalProperties: false on every `type: object` schema that lists properties and does not keep unknown
 * fields), and int-or-string fields take both. CEL rules (x-kubernetes-validations) are not evaluated.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Resource } from './types.js';

export const SCHEMA_DIR = new URL('../../../schemas/kubernetes/', import.meta.url);

/** kind → schema file. */
export const SCHEMA_FILES: Record<string, string> = {
  NetworkPolicy: 'networkpolicy.json',
  GlobalNetworkPolicy: 'calico-globalnetworkpolicy.json',
  Tier: 'calico-tier.json',
  ClusterNetworkPolicy: 'clusternetworkpolicy.json',
  CiliumClusterwideNetworkPolicy: 'cilium-clusterwidenetworkpolicy.json',
};

type Json = Record<string, unknown>;

function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (!node || typeof node !== 'object') return node;
  const s: Json = {};
  for (const [k, v] of Object.entries(node as Json)) s[k] = k === 'enum' || k === 'default' || k === 'example' ? v : strict(v);
  if (s.format === 'int-or-string' || s['x-kubernetes-int-or-string'] === true) {
    delete s.type;
    delete s.format;
    s.anyOf ??= [{ type: 'integer' }, { type: 'string' }];
  }
  if (s.type === 'object' && s.properties && s.additionalProperties === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) s.additionalProperties = false;
  return s;
}

const cache = new Map<string, ValidateFunction>();

function validatorFor(kind: string): ValidateFunction | null {
  const file = SCHEMA_FILES[kind];
  if (!file) return null;
  let v = cache.get(file);
  if (!v) {
    const schema = strict(JSON.parse(readFileSync(new URL(file, SCHEMA_DIR), 'utf8'))) as Json;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, unicodeRegExp: false });
    v = ajv.compile(schema);
    cache.set(file, v);
  }
  return v;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Every problem with one object, as `Kind/name: /path: message`; empty when valid. */
export function validateResource(r: Resource): string[] {
  const id = `${r.kind}/${r.metadata?.name}`;
  const v = validatorFor(r.kind);
  if (!v) return [`${id}: no schema for kind ${r.kind}`];
  const problems: string[] = [];
  const name = r.metadata?.name ?? '';
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) problems.push(`${id}: /metadata/name: not a DNS subdomain name`);
  if (!v(r)) for (const e of v.errors ?? []) problems.push(`${id}: ${e.instancePath || '/'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  return problems;
}

export const validateResources = (rs: Resource[]): string[] => rs.flatMap(validateResource);
