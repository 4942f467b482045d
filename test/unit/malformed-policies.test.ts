/** Every malformed policy is refused precisely: file:line:col, dotted path, what was expected; exit 2. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { formatDiagnostic } from '../../src/policy/diagnostic.js';
import { parsePolicy } from '../../src/policy/load.js';

interface Case {
  name: string;
  yaml: string;
  /** Each expected error: `line:col`, dotted path, and a fragment of the message. */
  errors: [string, string, RegExp][];
}

const CASES: Case[] = [
  { name: 'bad YAML (unclosed flow list)', yaml: 'allow: [10.0.0.1, 10.0.0.2\nmode: audit\n', errors: [['2:1', '(root)', /YAML: Flow sequence .* end with a \]/]] },
  { name: 'bad YAML (unclosed quote)', yaml: 'mode: "audit\n', errors: [['2:1', '(root)', /YAML: Missing closing "quote/]] },
  { name: 'bad YAML (tab indentation)', yaml: 'protect:\n\thost: true\n', errors: [['2:1', '(root)', /YAML/]] },
  { name: 'duplicate key', yaml: 'mode: audit\nmode: enforce\n', errors: [['2:1', '(root)', /YAML: Map keys must be unique/]] },
  { name: 'invalid CIDR', yaml: 'protect:\n  extra: [10.0.0.0/33]\n', errors: [['2:11', 'protect.extra.0', /"10.0.0.0\/33" is not an IPv4 or IPv6 address or CIDR/]] },
  { name: 'invalid address in to', yaml: 'allow:\n  - to: 10.300.1.1\n', errors: [['2:9', 'allow.0.to', /is not an IPv4 or IPv6 address, a CIDR, or "host"/]] },
  { name: 'port 70000', yaml: 'allow:\n  - to: 10.0.0.5\n    ports: [70000/tcp]\n', errors: [['3:13', 'allow.0.ports.0', /port 70000 .* out of range \(1-65535\)/]] },
  { name: 'port 0', yaml: 'allow:\n  - to: 10.0.0.5\n    ports: [0/udp]\n', errors: [['3:13', 'allow.0.ports.0', /port 0 .* out of range/]] },
  { name: '5432/tpc', yaml: 'allow:\n  - to: 10.0.0.5\n    ports: [5432/tpc]\n', errors: [['3:13', 'allow.0.ports.0', /unknown protocol "tpc" .*expected tcp or udp/]] },
  { name: 'port without protocol', yaml: 'allow:\n  - to: 10.0.0.5\n    ports: [5432]\n', errors: [['3:13', 'allow.0.ports.0', /no protocol: write 5432\/tcp or 5432\/udp/]] },
  { name: 'range start > end', yaml: 'allow:\n  - to: 10.0.0.5\n    ports: [9000-8000/tcp]\n', errors: [['3:13', 'allow.0.ports.0', /range start 9000 is greater than its end 8000/]] },
  { name: 'unknown top-level key', yaml: 'mode: audit\nprotekt: {}\n', errors: [['2:1', 'protekt', /unknown key "protekt" — did you mean "protect"\?/]] },
  { name: 'unknown nested key', yaml: 'allow:\n  - to: 10.0.0.5\n    form: { network: x }\n', errors: [['3:5', 'allow.0.form', /unknown key "form" — did you mean "from"\?/]] },
  { name: 'wrong type: mode is a number', yaml: 'mode: 1\n', errors: [['1:7', 'mode', /expected one of "enforce", "audit", got number 1/]] },
  { name: 'wrong type: host is a string', yaml: 'protect:\n  host: "yes"\n', errors: [['2:9', 'protect.host', /expected true or false, got "yes"/]] },
  { name: 'wrong type: allow is a mapping', yaml: 'allow:\n  to: 10.0.0.5\n', errors: [['2:3', 'allow', /expected a list, got a mapping/]] },
  { name: 'empty to', yaml: 'allow:\n  - to: ""\n', errors: [['2:9', 'allow.0.to', /must not be empty/]] },
  { name: 'missing to', yaml: 'allow:\n  - ports: [22/tcp]\n', errors: [['2:5', 'allow.0.to', /expected a string, got nothing/]] },
  { name: 'two scopes at once', yaml: 'allow:\n  - to: 10.0.0.5\n    from: { network: a, container: b }\n', errors: [['3:11', 'allow.0.from', /give only one of network, container/]] },
  { name: 'label without =', yaml: 'allow:\n  - to: 10.0.0.5\n    from: { label: role }\n', errors: [['3:20', 'allow.0.from.label', /"role" is not key=value/]] },
  { name: 'bad enum', yaml: 'action: deny\n', errors: [['1:9', 'action', /expected one of "drop", "reject", got "deny"/]] },
  { name: 'bad rate', yaml: 'log:\n  rate: 10/s\n', errors: [['2:9', 'log.rate', /not a rate like 1\/10s/]] },
  { name: 'bad ceiling', yaml: 'log:\n  ceiling: 1/10s\n', errors: [['2:12', 'log.ceiling', /not a ceiling like 50\/s/]] },
  { name: 'ceiling too fast for iptables', yaml: 'log:\n  ceiling: 20000/s\n', errors: [['2:12', 'log.ceiling', /above 10000 lines per second/]] },
  { name: 'ceiling of nothing', yaml: 'log:\n  ceiling: 0/s\n', errors: [['2:12', 'log.ceiling', /at least one line/]] },
  { name: 'burst out of range', yaml: 'log:\n  burst: 0\n', errors: [['2:10', 'log.burst', /./]] },
  { name: 'log prefix too long', yaml: 'log:\n  prefix: "THIS PREFIX IS MUCH TOO LONG FOR LOG: "\n', errors: [['2:11', 'log.prefix', /at most 29 characters/]] },
  { name: 'interface wildcard in the middle', yaml: 'containers:\n  interfaces: ["br*x"]\n', errors: [['2:16', 'containers.interfaces.0', /only allowed as the last character/]] },
  { name: 'networks neither default nor list', yaml: 'protect:\n  networks: all\n', errors: [['2:13', 'protect.networks', /expected "default" or a list of CIDRs/]] },
  {
    name: 'several errors at once, all reported',
    yaml: 'mode: audit\nprotect:\n  extra: [nope]\nallow:\n  - to: 10.0.0.5\n    ports: [5432/tpc, 70000/tcp]\n    colour: red\n',
    errors: [
      ['3:11', 'protect.extra.0', /"nope" is not/],
      ['6:13', 'allow.0.ports.0', /unknown protocol "tpc"/],
      ['6:23', 'allow.0.ports.1', /port 70000/],
      ['7:5', 'allow.0.colour', /unknown key "colour"/],
    ],
  },
];

describe('malformed policies', () => {
  it('has at least 15 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(15));

  for (const c of CASES) {
    it(`${c.name}: precise errors`, () => {
      const { ruleset, diagnostics } = parsePolicy(c.yaml, 'bad.yaml');
      expect(ruleset).toBeUndefined();
      const errors = diagnostics.filter((d) => d.severity === 'error');
      const printed = errors.map(formatDiagnostic);
      expect(errors.length, printed.join('\n')).toBe(c.errors.length);
      c.errors.forEach(([pos, path, msg], i) => {
        expect(printed[i], printed.join('\n')).toContain(`bad.yaml:${pos}: error: ${path}: `);
        expect(printed[i]).toMatch(msg);
      });
    });
  }

  it('lanfence check exits 2 and prints every error with file:line:col', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanfence-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, CASES[CASES.length - 1].yaml);
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['node', 'lanfence', 'check', '--policy', file], { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(code).toBe(2);
    const text = err.join('\n');
    expect(text).toContain(`${file}:3:11: error: protect.extra.0:`);
    expect(text).toContain(`${file}:7:5: error: allow.0.colour:`);
    expect(text).toMatch(/nothing was changed/);
  });

  it('lanfence check --json reports errors as JSON with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanfence-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'allow:\n  - to: 10.0.0.5\n    ports: [5432/tpc]\n');
    const out: string[] = [];
    const code = await run(['node', 'lanfence', 'check', '--json', '--policy', file], { out: (t) => out.push(t), err: () => undefined });
    expect(code).toBe(2);
    const json = JSON.parse(out.join(''));
    expect(json.ok).toBe(false);
    expect(json.diagnostics[0]).toMatchObject({ severity: 'error', path: ['allow', 0, 'ports', 0], file, pos: { line: 3, col: 13 } });
  });

  it('a missing policy file named with --policy is an error, not the default', async () => {
    const err: string[] = [];
    const code = await run(['node', 'lanfence', 'plan', '--policy', '/nonexistent/p.yaml', '--inventory', 'test/golden/inventory.json'], { out: () => undefined, err: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/not found: \/nonexistent\/p.yaml/);
  });
});
