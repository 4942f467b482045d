/** `lanfence install-service`: write the systemd units. */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootUnit, daemonUnit } from '../../daemon/systemd.js';
import type { CommandModule } from './types.js';

export const installServiceCommand: CommandModule = {
  name: 'install-service',
  register(program, io, setExit) {
    program
      .command('install-service')
      .description('write systemd units: lanfence-boot.service (rules before Docker) and lanfence.service (the daemon)')
      .option('--dir <dir>', 'unit directory', '/etc/systemd/system')
      .option('--bin <path>', 'lanfence executable', process.argv[1] ? realpathSync(process.argv[1]) : '/usr/local/bin/lanfence')
      .option('-p, --policy <file>', 'policy file the units use')
      .action((opts: { dir: string; bin: string; policy?: string }) => {
        mkdirSync(opts.dir, { recursive: true });
        const units = { 'lanfence-boot.service': bootUnit(opts), 'lanfence.service': daemonUnit(opts) };
        for (const [name, text] of Object.entries(units)) {
          writeFileSync(join(opts.dir, name), text, { mode: 0o644 });
          io.out(`wrote ${join(opts.dir, name)}`);
        }
        io.out('enable with: systemctl daemon-reload && systemctl enable --now lanfence-boot.service lanfence.service');
        setExit(0);
      });
  },
};
