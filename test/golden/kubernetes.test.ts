/**
 * Golden files for `lanfence export kubernetes`: every scenario × flavor, in
 * test/golden/NN-topic/kubernetes/<flavor>.yaml (or <flavor>.refused.txt when the flavor refuses the
 * policy, e.g. audit mode for networkpolicy). UPDATE_GOLDEN=1 regenerates them. Every golden object
 * must validate against its resource schema.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ExportError, exportKubernetes, FLAVORS, toYaml, validateResource, type ExportOptions, type Flavor, type Resource } from '../../src/export/kubernetes/index.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { Ruleset } from '../../src/ruleset/types.js';
import { GOLDEN_DIR } from '../support/golden.js';

const scenarios = readdirSync(GOLDEN_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
  .map((d) => d.name)
  .sort();

/** The options every golden is rendered with (networkpolicy needs namespaces; the others fence all but kube-system). */
export const goldenOptions = (flavor: Flavor, ruleset: Ruleset, source: string): ExportOptions => ({
  namespaces: flavor === 'networkpolicy' ? ['shop', 'web'] : [],
  clusterCidrs: ['10.42.0.0/16', 'fd00:42::/56'],
  dns: { namespace: 'kube-system', key: 'k8s-app', value: 'kube-dns' },
  mode: ruleset.mode,
  exceptionAction: 'pass',
  dropInexpressible: true,
  source,
});

function render(name: string, flavor: Flavor): { file: string; text: string } {
  const source = `${name}/policy.yaml`;
  const { ruleset } = parsePolicy(readFileSync(join(GOLDEN_DIR, source), 'utf8'), source);
  if (!ruleset) throw new Error(`${name}: invalid policy`);
  try {
    const result = exportKubernetes(flavor, ruleset, goldenOptions(flavor, ruleset, source));
    return { file: `${flavor}.yaml`, text: toYaml(result, [`lanfence export kubernetes --flavor ${flavor}: policy ${source}, mode ${ruleset.mode}`]) };
  } catch (e) {
    if (!(e instanceof ExportError)) throw e;
    return { file: `${flavor}.refused.txt`, text: `${e.message}\n` };
  }
}

const dirOf = (name: string) => join(GOLDEN_DIR, name, 'kubernetes');

describe('kubernetes export golden files', () => {
  it('covers every golden scenario', () => expect(scenarios.length).toBeGreaterThanOrEqual(10));
  for (const name of scenarios) {
    for (const flavor of FLAVORS) {
      it(`${name} exports for ${flavor} as kubernetes/${flavor}.*`, () => {
        const { file, text } = render(name, flavor);
        const dir = dirOf(name);
        const path = join(dir, file);
        const other = join(dir, file.endsWith('.yaml') ? `${flavor}.refused.txt` : `${flavor}.yaml`);
        if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
          mkdirSync(dir, { recursive: true });
          writeFileSync(path, text);
          rmSync(other, { force: true });
        }
        expect(existsSync(other), `${other} is stale`).toBe(false);
        expect(text).toBe(readFileSync(path, 'utf8'));
      });
    }
  }
});

describe('every golden export validates against its resource schema', () => {
  const files = scenarios.flatMap((name) => (existsSync(dirOf(name)) ? readdirSync(dirOf(name)).filter((f) => f.endsWith('.yaml')).map((f) => join(dirOf(name), f)) : []));
  it('has yaml goldens for every flavor', () => {
    for (const flavor of FLAVORS) expect(files.filter((f) => f.endsWith(`/${flavor}.yaml`)).length, flavor).toBeGreaterThanOrEqual(8);
  });
  for (const file of files) {
    it(file.slice(GOLDEN_DIR.length), () => {
      const docs = parseAllDocuments(readFileSync(file, 'utf8'));
      const resources = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as Resource).filter(Boolean);
      expect(resources.length).toBeGreaterThan(0);
      for (const r of resources) expect(validateResource(r)).toEqual([]);
    });
  }
});
