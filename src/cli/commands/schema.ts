/** `lanfence schema`: print the policy's JSON Schema (schema/policy.schema.json is this output). */
import { policyJsonSchema } from '../../policy/schema.js';
import { printJson } from '../output.js';
import type { CommandModule } from './types.js';

export const schemaCommand: CommandModule = {
  name: 'schema',
  register(program, io, setExit) {
    program
      .command('schema')
      .description('print the JSON Schema of the policy file (for editors)')
      .action(() => {
        printJson(io, policyJsonSchema());
        setExit(0);
      });
  },
};
