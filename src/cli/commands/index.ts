/** The explicit command registry: a new command is one file plus one line here. */
import { applyCommand } from './apply.js';
import { auditCommand } from './audit.js';
import { checkCommand } from './check.js';
import { confirmCommand } from './confirm.js';
import { daemonCommand } from './daemon.js';
import { demoCommand } from './demo.js';
import { explainCommand } from './explain.js';
import { exportCommand } from './export.js';
import { initCommand } from './init.js';
import { installServiceCommand } from './install-service.js';
import { logsCommand } from './logs.js';
import { planCommand } from './plan.js';
import { removeCommand } from './remove.js';
import { rollbackCommand } from './rollback.js';
import { schemaCommand } from './schema.js';
import { statusCommand } from './status.js';
import { verifyCommand } from './verify.js';
import type { CommandModule } from './types.js';

export const COMMANDS: readonly CommandModule[] = [
  planCommand,
  checkCommand,
  applyCommand,
  statusCommand,
  removeCommand,
  rollbackCommand,
  confirmCommand,
  logsCommand,
  auditCommand,
  daemonCommand,
  installServiceCommand,
  demoCommand,
  initCommand,
  schemaCommand,
  explainCommand,
  verifyCommand,
  exportCommand,
];
export type { CommandModule } from './types.js';
