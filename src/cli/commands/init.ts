/** `lanfence init [PATH]`: write the commented default policy. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EXIT, UsageError } from '../../errors.js';
import { DEFAULT_POLICY_PATH, DEFAULT_POLICY_YAML } from '../../policy/default-policy.js';
import type { CommandModule } from './types.js';

export const initCommand: CommandModule = {
  name: 'init',
  register(program, io, setExit) {
    program
      .command('init')
      .description('write the commented default policy to PATH ("-" for stdout)')
      .argument('[path]', 'where to write it', DEFAULT_POLICY_PATH)
      .option('-f, --force', 'overwrite an existing file')
      .action((path: string, opts: { force?: boolean }) => {
        if (path === '-') {
          io.out(DEFAULT_POLICY_YAML);
          return setExit(EXIT.ok);
        }
        if (existsSync(path) && !opts.force) throw new UsageError(`${path} exists; use --force to overwrite it`);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, DEFAULT_POLICY_YAML, { mode: 0o644 });
        io.out(`wrote ${path}; check it with: lanfence check --policy ${path}`);
        setExit(EXIT.ok);
      });
  },
};
