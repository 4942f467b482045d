/** `lanfence demo`: see what lanfence does, in a sandbox, in one command. */
import { spawnSync } from 'node:child_process';
import { EXIT, LanfenceError } from '../../errors.js';
import { missingRequirements, runDemo } from '../../lab/demo.js';
import type { CommandModule } from './types.js';

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export const demoCommand: CommandModule = {
  name: 'demo',
  register(program, io, setExit) {
    program
      .command('demo')
      .description('build a sandbox (network namespaces, its own Docker engine), probe it without and with lanfence, show audit logs, tear it down (root; never touches this host\'s firewall)')
      .action(async () => {
        const missing = missingRequirements(onPath, process.getuid?.() === 0);
        if (missing.length) throw new LanfenceError(`cannot run the demo:\n  ${missing.join('\n  ')}`);
        const start = Date.now();
        await runDemo({ out: (s) => io.out(s), step: (s) => io.err(`… ${s} (${((Date.now() - start) / 1000).toFixed(0)}s)`) });
        setExit(EXIT.ok);
      });
  },
};
