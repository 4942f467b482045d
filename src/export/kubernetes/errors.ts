/** Why an export was refused: the policy cannot be expressed faithfully for the chosen flavor. */
import { LanfenceError } from '../../errors.js';

export class ExportError extends LanfenceError {
  constructor(
    headline: string,
    /** One line per problem (e.g. each `allow #N` that cannot be expressed). */
    readonly details: string[] = [],
  ) {
    super(details.length ? `${headline}\n${details.map((d) => `  ${d}`).join('\n')}` : headline);
    this.name = 'ExportError';
  }
}
