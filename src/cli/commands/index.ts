/** The explicit command registry: a new command is one file plus one line here. */
import { checkCommand } from './check.js';
import { initCommand } from './init.js';
import { planCommand } from './plan.js';
import { schemaCommand } from './schema.js';
import type { CommandModule } from './types.js';

export const COMMANDS: readonly CommandModule[] = [planCommand, checkCommand, initCommand, schemaCommand];
export type { CommandModule } from './types.js';
