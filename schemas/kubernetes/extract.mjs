#!/usr/bin/env node
// Regenerates the schema data files in this folder from the upstream files named in README.md.
// Usage: node schemas/kubernetes/extract.mjs SWAGGER_JSON GNP_CRD_YAML TIER_CRD_YAML CNP_CRD_YAML CCNP_JSON
// The data is upstream's, unchanged except: YAML → JSON, and for NetworkPolicy only the definitions
// a NetworkPolicy refers to (transitively) are kept. Strictness (unknown fields are errors) is added
// when the schemas are loaded (src/export/kubernetes/validate.ts), not here.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const [swagger, gnp, tier, cnp, ccnp] = process.argv.slice(2);
if (!ccnp) throw new Error('usage: extract.mjs SWAGGER_JSON GNP_CRD TIER_CRD CNP_CRD CCNP_JSON');
const out = dirname(fileURLToPath(import.meta.url));
const write = (name, value) => writeFileSync(join(out, name), `${JSON.stringify(value, null, 1)}\n`);

// NetworkPolicy: the closure of #/definitions/... references from io.k8s.api.networking.v1.NetworkPolicy.
const defs = JSON.parse(readFileSync(swagger, 'utf8')).definitions;
const root = 'io.k8s.api.networking.v1.NetworkPolicy';
const keep = {};
const visit = (name) => {
  if (keep[name]) return;
  keep[name] = defs[name];
  const refs = JSON.stringify(defs[name]).matchAll(/"\$ref":"#\/definitions\/([^"]+)"/g);
  for (const m of refs) visit(m[1]);
};
visit(root);
const sorted = Object.fromEntries(Object.keys(keep).sort().map((k) => [k, keep[k]]));
write('networkpolicy.json', { $ref: `#/definitions/${root}`, definitions: sorted });

const crdSchema = (file, version) => {
  const crd = parse(readFileSync(file, 'utf8'));
  const v = crd.spec.versions.find((x) => x.name === version);
  if (!v) throw new Error(`${file}: no version ${version}`);
  return v.schema.openAPIV3Schema;
};
write('calico-globalnetworkpolicy.json', crdSchema(gnp, 'v3'));
write('calico-tier.json', crdSchema(tier, 'v3'));
write('clusternetworkpolicy.json', crdSchema(cnp, 'v1alpha2'));
write('cilium-clusterwidenetworkpolicy.json', JSON.parse(readFileSync(ccnp, 'utf8')));
