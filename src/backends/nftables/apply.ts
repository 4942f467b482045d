/** Applying and removing `table inet lanfence`: each one `nft` transaction. */
import { BackendError } from '../../errors.js';
import { commandLine, type Runner } from '../../exec.js';
import type { Rendered } from '../types.js';
import { NFT_TABLE } from './render.js';

export async function applyNftables(rendered: Rendered, run: Runner): Promise<void> {
  const args = ['-f', '-'];
  const r = await run('nft', args, { input: rendered.parts[0].content });
  if (r.code !== 0) throw new BackendError('nft refused the rules; the previous ruleset is unchanged', commandLine('nft', args), r.code, r.stderr.trim());
}

export async function removeNftables(run: Runner): Promise<void> {
  // `table …` then `delete table …` in one transaction: succeeds whether or not the table exists.
  const script = `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`;
  const r = await run('nft', ['-f', '-'], { input: script });
  if (r.code !== 0) throw new BackendError('cannot delete the lanfence table', `nft delete table inet ${NFT_TABLE}`, r.code, r.stderr.trim());
}

export async function nftAvailable(run: Runner): Promise<boolean> {
  return (await run('nft', ['list', 'tables'])).code === 0;
}
