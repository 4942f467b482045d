/** verify's own typed errors (src/cli/handle-error.ts prints them; the exit code travels with them). */
import { EXIT, LanfenceError } from '../errors.js';

/**
 * Exit code of a verify whose cells do not all match. A distinct code is wanted (proposed: 6, "verify:
 * the kernel does not do what the applied policy says"); until src/errors.ts has one, 1.
 */
export const VERIFY_MISMATCH_EXIT: number = EXIT.failure;

/** verify needs root: it enters containers' network namespaces and reads the firewall's counters. */
export class NeedsRootError extends LanfenceError {
  override readonly exitCode: number = EXIT.failure;
  constructor(message: string) {
    super(message);
    this.name = 'NeedsRootError';
  }
}

/** Nothing to verify: lanfence never applied, or its rules are gone. */
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
