/** Typed errors. Only src/cli/handle-error.ts turns them into messages and exit codes. */
import type { Diagnostic } from './policy/diagnostic.js';

export const EXIT = {
  ok: 0,
  failure: 1,
  invalid: 2,
  backend: 3,
  drifted: 4,
  absent: 5,
  /** verify: the kernel does not do what the applied policy says (a cell differs). */
  mismatch: 6,
  usage: 64,
} as const;

export class LanfenceError extends Error {
  readonly exitCode: number = EXIT.failure;
}

/** The policy (or an inventory, or a label) is invalid: every problem at once. */
export class PolicyError extends LanfenceError {
  override readonly exitCode: number = EXIT.invalid;
  constructor(readonly diagnostics: Diagnostic[], message = 'invalid policy') {
    super(message);
    this.name = 'PolicyError';
  }
}

/** A firewall command failed. */
export class BackendError extends LanfenceError {
  override readonly exitCode: number = EXIT.backend;
  constructor(
    message: string,
    readonly cmd: string,
    readonly exitStatus: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

/** The command line itself is wrong (unknown backend, bad address syntax, ...). */
export class UsageError extends LanfenceError {
  override readonly exitCode: number = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Docker could not be reached or answered unexpectedly. */
export class InventoryError extends LanfenceError {
  override readonly exitCode: number = EXIT.failure;
  constructor(message: string) {
    super(message);
    this.name = 'InventoryError';
  }
}

/** The command needs root (verify enters containers' network namespaces and reads counters). */
export class NeedsRootError extends LanfenceError {
  override readonly exitCode: number = EXIT.failure;
  constructor(message: string) {
    super(message);
    this.name = 'NeedsRootError';
  }
}

/** Nothing to check: lanfence never applied, or its rules are gone. */
export class NotAppliedError extends LanfenceError {
  override readonly exitCode: number = EXIT.absent;
  constructor(message: string) {
    super(message);
    this.name = 'NotAppliedError';
  }
}

/** verify could not run or give a trustworthy answer (a command failed, the counter went backwards). */
export class VerifyError extends LanfenceError {
  override readonly exitCode: number = EXIT.failure;
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}
