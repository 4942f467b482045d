/**
 * What lanfence last applied, kept under /var/lib/lanfence (LANFENCE_STATE_DIR overrides) for
 * status, rollback and --confirm: `current.json` and `previous.json`, written atomically.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rendered } from '../backends/types.js';
import type { BackendName, Mode } from '../ruleset/types.js';

export const DEFAULT_STATE_DIR = '/var/lib/lanfence';

export interface AppliedState {
  backend: BackendName;
  mode: Mode;
  appliedAt: string;
  policyFile: string;
  policyText: string;
  /** sha256 of the policy text, first 16 hex digits. */
  policyHash: string;
  rendered: Rendered;
  /** The container interfaces the rules judge. */
  interfaces: string[];
  version: string;
}

export type Slot = 'current' | 'previous';

export const policyHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

export class StateStore {
  constructor(readonly dir: string = process.env.LANFENCE_STATE_DIR || DEFAULT_STATE_DIR) {}

  private path(name: string): string {
    return join(this.dir, name);
  }

  read(slot: Slot): AppliedState | null {
    const p = this.path(`${slot}.json`);
    if (!existsSync(p)) return null;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as AppliedState;
    } catch {
      return null;
    }
  }

  private write(name: string, value: unknown): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = this.path(`.${name}.${randomBytes(4).toString('hex')}`);
    writeFileSync(tmp, JSON.stringify(value, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path(name));
  }

  /** Records a successful apply: current becomes previous. */
  recordApplied(state: AppliedState): void {
    const current = this.read('current');
    if (current) this.write('previous.json', current);
    this.write('current.json', state);
  }

  /** The daemon's own updates (new containers, labels) replace `current` without shifting `previous`. */
  replaceCurrent(state: AppliedState): void {
    this.write('current.json', state);
  }

  /** Sets both slots at once (rollback swaps them; a failed confirm restores them). */
  setSlots(current: AppliedState | null, previous: AppliedState | null): void {
    for (const [slot, value] of [['current', current], ['previous', previous]] as const) {
      if (value) this.write(`${slot}.json`, value);
      else rmSync(this.path(`${slot}.json`), { force: true });
    }
  }

  // --confirm: apply writes a pending token; `lanfence confirm` answers it.
  beginConfirm(deadline: Date): string {
    const token = randomBytes(8).toString('hex');
    rmSync(this.path('confirmed'), { force: true });
    this.write('pending-confirm.json', { token, deadline: deadline.toISOString() });
    return token;
  }

  pendingConfirm(): { token: string; deadline: string } | null {
    const p = this.path('pending-confirm.json');
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { token: string; deadline: string }) : null;
  }

  confirm(): boolean {
    const pending = this.pendingConfirm();
    if (!pending) return false;
    this.write('confirmed', pending.token);
    return true;
  }

  isConfirmed(token: string): boolean {
    const p = this.path('confirmed');
    return existsSync(p) && readFileSync(p, 'utf8').replace(/"/g, '').trim() === token;
  }

  endConfirm(): void {
    rmSync(this.path('pending-confirm.json'), { force: true });
    rmSync(this.path('confirmed'), { force: true });
  }
}
