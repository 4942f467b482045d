/** `lanfence remove`: remove exactly what lanfence added. */
import { Option } from 'commander';
import { BACKEND_NAMES, getBackend } from '../../backends/index.js';
import { EXIT, UsageError } from '../../errors.js';
import { runCommand } from '../../exec.js';
import { StateStore } from '../../state/store.js';
import { outputState, printJson } from '../output.js';
import type { CommandModule } from './types.js';

export const removeCommand: CommandModule = {
  name: 'remove',
  register(program, io, setExit) {
    program
      .command('remove')
      .description('remove lanfence\'s rules (from the backend last applied, or the one named) and nothing else (root)')
      .addOption(new Option('-b, --backend <name>', 'backend to remove from').choices(BACKEND_NAMES))
      .option('--json', 'machine-readable result on stdout')
      .action(async (opts: { backend?: string; json?: boolean }) => {
        outputState.json = !!opts.json;
        const store = new StateStore();
        const current = store.read('current');
        const name = opts.backend ?? current?.backend;
        if (!name) throw new UsageError('nothing recorded as applied: name the backend with --backend');
        const backend = getBackend(name);
        await backend.remove(runCommand);
        const after = await backend.inspect(null, runCommand);
        if (!opts.backend || opts.backend === current?.backend) store.setSlots(null, current);
        const ok = !after.present;
        if (opts.json) printJson(io, { ok, backend: backend.name, leftovers: ok ? [] : after.differences });
        else io.out(ok ? `removed: no lanfence rules remain in ${backend.name}` : `removed, but traces remain: ${after.differences.join('; ')}`);
        setExit(ok ? EXIT.ok : EXIT.failure);
      });
  },
};
