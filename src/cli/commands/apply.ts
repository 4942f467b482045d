/** `lanfence apply`: validate, check, apply as one transaction, verify, record; optional --confirm. */
import { createInterface } from 'node:readline';
import { Option } from 'commander';
import { BACKEND_NAMES } from '../../backends/index.js';
import { EXIT, UsageError } from '../../errors.js';
import { runCommand } from '../../exec.js';
import { applyPolicy, restoreState } from '../../engine/apply.js';
import { StateStore } from '../../state/store.js';
import type { Mode } from '../../ruleset/types.js';
import { VERSION } from '../../version.js';
import { loadInventoryOption, loadPolicyReportingWarnings } from '../context.js';
import { INVENTORY_HELP } from '../context.js';
import { outputState, printJson, type Io } from '../output.js';
import { progress } from '../progress.js';
import type { CommandModule } from './types.js';

interface ApplyOpts {
  policy?: string;
  backend?: string;
  mode?: Mode;
  confirm?: string;
  inventory?: string;
  json?: boolean;
}

export const applyCommand: CommandModule = {
  name: 'apply',
  register(program, io, setExit) {
    program
      .command('apply')
      .description('apply the policy: check first, one transaction, read back and verify (root)')
      .option('-p, --policy <file>', 'policy file (default /etc/lanfence/policy.yaml, else the embedded default)')
      .addOption(new Option('-b, --backend <name>', 'backend (default: the policy\'s; auto = nftables when nft works, else iptables)').choices([...BACKEND_NAMES, 'auto']))
      .addOption(new Option('--mode <mode>', 'override the policy\'s mode for this apply').choices(['audit', 'enforce']))
      .option('--confirm <seconds>', 'restore the previous rules unless confirmed within SECONDS (terminal prompt or `lanfence confirm`)')
      .option('-i, --inventory <file>', INVENTORY_HELP)
      .option('--json', 'machine-readable result on stdout')
      .action(async (opts: ApplyOpts) => {
        outputState.json = !!opts.json;
        const confirmSeconds = opts.confirm === undefined ? undefined : Number(opts.confirm);
        if (confirmSeconds !== undefined && !(Number.isInteger(confirmSeconds) && confirmSeconds > 0 && confirmSeconds <= 3600))
          throw new UsageError(`--confirm: expected whole seconds between 1 and 3600, got "${opts.confirm}"`);
        const policy = loadPolicyReportingWarnings(opts.policy, io, !!opts.json);
        const inv = await loadInventoryOption(opts.inventory);
        const store = new StateStore();
        const step = progress(io, !opts.json || process.stderr.isTTY);
        const outcome = await applyPolicy({ policy, inventory: inv.inventory, backend: opts.backend, mode: opts.mode, run: runCommand, store, version: VERSION, progress: step });

        let confirmed: boolean | undefined;
        if (confirmSeconds !== undefined && outcome.status.matches) {
          confirmed = await waitForConfirmation(store, confirmSeconds, io);
          if (!confirmed) {
            step('not confirmed: restoring the previous rules');
            await restoreState(outcome.before.current, outcome.state, runCommand);
            store.setSlots(outcome.before.current, outcome.before.previous);
          }
        }

        const code = confirmed === false ? EXIT.failure : outcome.status.matches ? EXIT.ok : EXIT.drifted;
        if (opts.json) {
          printJson(io, {
            ok: code === EXIT.ok,
            backend: outcome.backend,
            backendChoice: outcome.how,
            mode: outcome.state.mode,
            policy: outcome.state.policyFile,
            policyHash: outcome.state.policyHash,
            appliedAt: outcome.state.appliedAt,
            verified: outcome.status.matches,
            differences: outcome.status.differences,
            replaced: outcome.replaced ?? null,
            confirmed: confirmed ?? null,
            interfaces: outcome.resolved.interfaces,
            unprotected: outcome.resolved.unprotected,
            notes: [...(inv.note ? [inv.note] : []), ...outcome.resolved.notes],
          });
        } else {
          if (inv.note) io.err(`note: ${inv.note}`);
          for (const n of outcome.resolved.notes) io.err(`note: ${n}`);
          for (const u of outcome.resolved.unprotected) io.err(`unprotected: ${u.container}: ${u.reason}`);
          io.out(`backend ${outcome.backend} (${outcome.how}), mode ${outcome.state.mode}, policy ${outcome.state.policyFile} (${outcome.state.policyHash})`);
          if (outcome.replaced) io.out(`removed the rules of the previous backend ${outcome.replaced}`);
          if (!outcome.status.matches) {
            io.out('applied, but the live rules differ from what was rendered:');
            for (const d of outcome.status.differences) io.out(`  ${d}`);
          } else if (confirmed === false) {
            io.out(`not confirmed within ${confirmSeconds}s: the previous rules are back in place`);
          } else {
            io.out(`applied and verified: ${outcome.resolved.ruleset.blocked.length} blocked ranges, ${outcome.resolved.ruleset.exceptions.length} exception(s), interfaces ${outcome.resolved.interfaces.join(', ')}`);
          }
        }
        setExit(code);
      });
  },
};

/** A prompt on a terminal, else waiting for `lanfence confirm` from another shell. */
async function waitForConfirmation(store: StateStore, seconds: number, io: Io): Promise<boolean> {
  const token = store.beginConfirm(new Date(Date.now() + seconds * 1000));
  const deadline = Date.now() + seconds * 1000;
  let answered: boolean | undefined;
  let rl: ReturnType<typeof createInterface> | undefined;
  if (process.stdin.isTTY) {
    rl = createInterface({ input: process.stdin, output: process.stderr });
    rl.question(`Keep these rules? Type "yes" within ${seconds}s (or run \`lanfence confirm\`): `, (a) => {
      answered = /^y(es)?$/i.test(a.trim());
    });
  } else {
    io.err(`waiting ${seconds}s for \`lanfence confirm\`; without it the previous rules are restored`);
  }
  try {
    while (Date.now() < deadline && answered === undefined) {
      if (store.isConfirmed(token)) answered = true;
      else await new Promise((r) => setTimeout(r, 200));
    }
    return answered === true;
  } finally {
    rl?.close();
    store.endConfirm();
  }
}
