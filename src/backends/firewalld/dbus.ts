/**
 * firewalld's D-Bus API for the direct configuration: a snapshot (state, the whole permanent
 * configuration via `config.direct.getSettings`, the runtime one via `direct.getAllChains/Rules`),
 * the whole permanent configuration written in one `config.direct.update`, and runtime changes.
 *
 * firewall-cmd has no batch option: `--permanent --direct --add-rule` costs one process and one
 * rewrite of direct.xml per rule (measured ~0.9 s per rule with 2,000 rules present), so thousands
 * of exceptions would take half an hour. `update()` replaces the whole direct configuration in one
 * call (measured 0.7 s for 2,000 rules). The calls are made through the Python interpreter that runs
 * firewall-cmd itself (read from its `#!` line): wherever firewall-cmd works, that interpreter has
 * the `dbus` module firewall-cmd uses. Data travels as JSON on stdin/stdout, so there is no limit on
 * the size of an argument.
 */
import { BackendError } from '../../errors.js';
import type { Runner } from '../../exec.js';
import type { DirectSettings, RuntimeOp } from './direct.js';

const PY = String.raw`
import json, sys, dbus
NAME = 'org.fedoraproject.FirewallD1'
PATH = '/org/fedoraproject/FirewallD1'
strs = lambda xs: [str(x) for x in xs]
chains = lambda c: [dict(zip(('ipv', 'table', 'chain'), strs(x))) for x in c]
rules = lambda r: [{'ipv': str(x[0]), 'table': str(x[1]), 'chain': str(x[2]), 'priority': int(x[3]), 'args': strs(x[4])} for x in r]
try:
    bus = dbus.SystemBus()
    obj = lambda path: bus.get_object(NAME, path)
    direct = lambda: dbus.Interface(obj(PATH + '/config'), NAME + '.config.direct')
    cmd = sys.argv[1]
    if cmd == 'snapshot':
        try:
            state = str(dbus.Interface(obj(PATH), dbus.PROPERTIES_IFACE).Get(NAME, 'state'))
        except dbus.exceptions.DBusException as e:
            json.dump({'state': 'not running', 'error': '%s: %s' % (e.get_dbus_name(), e.get_dbus_message())}, sys.stdout)
            sys.exit(0)
        c, r, p = direct().getSettings()
        rt = dbus.Interface(obj(PATH), NAME + '.direct')
        json.dump({'state': state.lower(),
                   'permanent': {'chains': chains(c), 'rules': rules(r), 'passthroughs': [{'ipv': str(x[0]), 'args': strs(x[1])} for x in p]},
                   'runtime': {'chains': chains(rt.getAllChains()), 'rules': rules(rt.getAllRules())}}, sys.stdout)
    elif cmd == 'set':
        s = json.load(sys.stdin)
        sa = lambda xs: dbus.Array(xs, signature='s')
        direct().update((
            dbus.Array([dbus.Struct((x['ipv'], x['table'], x['chain']), signature='sss') for x in s['chains']], signature='(sss)'),
            dbus.Array([dbus.Struct((x['ipv'], x['table'], x['chain'], dbus.Int32(x['priority']), sa(x['args'])), signature='sssias') for x in s['rules']], signature='(sssias)'),
            dbus.Array([dbus.Struct((x['ipv'], sa(x['args'])), signature='sas') for x in s['passthroughs']], signature='(sas)'),
        ), timeout=600)
    elif cmd == 'runtime':
        # Runtime changes one by one (firewalld has no batch call); on a failure the ones done are undone.
        rt = dbus.Interface(obj(PATH), NAME + '.direct')
        def call(op, x):
            key = (x['ipv'], x['table'], x['chain'])
            if op.endswith('Chain'):
                getattr(rt, op)(*key)
            else:
                getattr(rt, op)(*key, dbus.Int32(x['priority']), dbus.Array(x['args'], signature='s'))
        inverse = {'addChain': 'removeChain', 'removeChain': 'addChain', 'addRule': 'removeRule', 'removeRule': 'addRule'}
        done, skipped = [], []
        for x in json.load(sys.stdin):
            try:
                call(x['op'], x)
                done.append(x)
            except dbus.exceptions.DBusException as e:
                if x.get('optional'):
                    skipped.append(x)
                    continue
                for y in reversed(done):
                    try:
                        call(inverse[y['op']], y)
                    except dbus.exceptions.DBusException:
                        pass
                sys.stderr.write('%s %s: %s\n' % (x['op'], ' '.join([x['ipv'], x['table'], x['chain'], str(x.get('priority', ''))] + x.get('args', [])).replace('  ', ' '), e.get_dbus_message()))
                sys.exit(3)
        json.dump({'done': done, 'skipped': skipped}, sys.stdout)
    elif cmd == 'config-dir':
        bus_iface = dbus.Interface(bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus'), 'org.freedesktop.DBus')
        argv = [a.decode() for a in open('/proc/%d/cmdline' % int(bus_iface.GetConnectionUnixProcessID(NAME)), 'rb').read().split(b'\0')]
        path = '/etc/firewalld'
        for i, a in enumerate(argv):
            if a == '--system-config' and i + 1 < len(argv):
                path = argv[i + 1]
            elif a.startswith('--system-config='):
                path = a.split('=', 1)[1]
        print(path)
    else:
        sys.exit('unknown command ' + cmd)
except dbus.exceptions.DBusException as e:
    sys.stderr.write('%s: %s\n' % (e.get_dbus_name(), e.get_dbus_message()))
    sys.exit(2)
`;

/**
 * Runs the helper with the interpreter named on firewall-cmd's `#!` line (word-split by the shell,
 * so `#!/usr/bin/python3 -s` and `#!/usr/bin/env python3` work), in one process.
 */
const LAUNCH = 'exec $(sed -n "1s/^#! *//p" "$(command -v firewall-cmd)") -c "$0" "$@"';

async function helper(run: Runner, cmd: string, input?: string): Promise<string> {
  const res = await run('sh', ['-c', LAUNCH, PY, cmd], { input, timeoutMs: 600_000 });
  if (res.code !== 0) {
    const what =
      { snapshot: 'reading the direct configuration', set: 'config.direct.update', runtime: 'runtime direct change', 'config-dir': 'locating the configuration directory' }[cmd] ?? cmd;
    throw new BackendError(`firewalld D-Bus ${what} failed: ${res.stderr.trim()}`, `<firewall-cmd's python> -c <lanfence firewalld helper> ${cmd}`, res.code, res.stderr);
  }
  return res.stdout;
}

/** firewalld's state and its whole direct configuration, permanent and runtime, read in one go. */
export interface Snapshot {
  /** `running`, `failed` (permanent changes refused until a reload succeeds), `init`, or `not running`. */
  state: string;
  /** Why firewalld could not be asked, when `not running`. */
  error?: string;
  permanent: DirectSettings;
  /** What firewalld has loaded: the same D-Bus calls as `firewall-cmd --direct --get-all-chains/--get-all-rules`. */
  runtime: Pick<DirectSettings, 'chains' | 'rules'>;
}

const EMPTY: DirectSettings = { chains: [], rules: [], passthroughs: [] };

/** Never throws: without firewall-cmd, its Python or a bus, firewalld is `not running`, with the reason. */
export async function snapshot(run: Runner): Promise<Snapshot> {
  const s = await helper(run, 'snapshot').then(
    (out) => JSON.parse(out) as Partial<Snapshot> & { state: string },
    (e: unknown) => ({ state: 'not running', error: e instanceof Error ? e.message : String(e) }),
  );
  return { permanent: EMPTY, runtime: { chains: [], rules: [] }, ...s };
}

/** Replaces the whole permanent direct configuration in one call. Runtime changes only with a reload. */
export async function writePermanent(settings: DirectSettings, run: Runner): Promise<void> {
  await helper(run, 'set', JSON.stringify(settings));
}

/** The `--system-config` directory of the running firewalld (default /etc/firewalld). */
export async function configDir(run: Runner): Promise<string> {
  return (await helper(run, 'config-dir')).trim();
}

/**
 * Changes firewalld's runtime direct rules without a reload, one D-Bus call per change. All or
 * nothing: on the first failure the changes made are undone and BackendError is thrown. Returns
 * the changes made and the optional ones skipped.
 */
export async function changeRuntime(ops: RuntimeOp[], run: Runner): Promise<{ done: RuntimeOp[]; skipped: RuntimeOp[] }> {
  if (ops.length === 0) return { done: [], skipped: [] };
  return JSON.parse(await helper(run, 'runtime', JSON.stringify(ops))) as { done: RuntimeOp[]; skipped: RuntimeOp[] };
}

const INVERSE = { addChain: 'removeChain', removeChain: 'addChain', addRule: 'removeRule', removeRule: 'addRule' } as const;

/** The changes that undo `done`, in the order to make them. */
export const undoOps = (done: RuntimeOp[]): RuntimeOp[] => [...done].reverse().map((o) => ({ ...o, op: INVERSE[o.op], optional: true }));
