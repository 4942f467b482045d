/** `lanfence rollback`: restore the previously applied rules. */
import { EXIT, LanfenceError } from '../../errors.js';
import { runCommand } from '../../exec.js';
import { restoreState } from '../../engine/apply.js';
import { StateStore } from '../../state/store.js';
import { outputState, printJson } from '../output.js';
import type { CommandModule } from './types.js';

export const rollbackCommand: CommandModule = {
  name: 'rollback',
  register(program, io, setExit) {
    program
      .command('rollback')
      .description('restore the rules that were in place before the last apply (root)')
      .option('--json', 'machine-readable result on stdout')
      .action(async (opts: { json?: boolean }) => {
        outputState.json = !!opts.json;
        const store = new StateStore();
        const current = store.read('current');
        const previous = store.read('previous');
        if (!previous) throw new LanfenceError(`nothing to roll back to: no previous apply recorded in ${store.dir}`);
        await restoreState(previous, current, runCommand);
        store.setSlots(previous, current);
        if (opts.json) printJson(io, { ok: true, backend: previous.backend, mode: previous.mode, policyHash: previous.policyHash, appliedAt: previous.appliedAt });
        else io.out(`rolled back to the rules applied ${previous.appliedAt} (${previous.backend}, ${previous.mode}, policy ${previous.policyHash})`);
        setExit(EXIT.ok);
      });
  },
};
