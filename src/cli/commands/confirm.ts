/** `lanfence confirm`: keeps the rules of a pending `apply --confirm`. */
import { EXIT, LanfenceError } from '../../errors.js';
import { StateStore } from '../../state/store.js';
import type { CommandModule } from './types.js';

export const confirmCommand: CommandModule = {
  name: 'confirm',
  register(program, io, setExit) {
    program
      .command('confirm')
      .description('confirm a pending `apply --confirm`, keeping the new rules')
      .action(() => {
        const store = new StateStore();
        if (!store.confirm()) throw new LanfenceError('no apply is waiting for confirmation');
        io.out('confirmed: the new rules stay');
        setExit(EXIT.ok);
      });
  },
};
