/** The direct entries of a rendered firewalld script: apply, inspect and remove work from the text a reviewer saw. */
import { BackendError } from '../../errors.js';
import type { Rendered } from '../types.js';
import type { DirectEntry } from './render.js';
import { parseFirewalldScript } from './script.js';

export function entriesOf(rendered: Rendered): DirectEntry[] {
  const part = rendered.parts.find((p) => p.tool === 'firewall-cmd');
  if (!part) throw new BackendError('no firewall-cmd script in the rendered output', 'firewalld (reading the script)', null, '');
  const parsed = parseFirewalldScript(part.content);
  if (parsed.errors.length > 0)
    throw new BackendError(`cannot read the rendered firewall-cmd script: ${parsed.errors[0]}`, 'firewalld (reading the script)', null, parsed.errors.join('\n'));
  return parsed.entries;
}
