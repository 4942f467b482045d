/** The export as multi-document YAML, after a comment header a reviewer can read. */
import { stringify } from 'yaml';
import type { ExportResult } from './types.js';

export function toYaml(result: ExportResult, header: string[]): string {
  const comment = (l: string) => `# ${l}`.trimEnd();
  const head = [
    ...header,
    ...(result.warnings.length ? ['warnings:', ...result.warnings.map((w) => `  ${w}`)] : []),
    ...(result.notes.length ? ['notes:', ...result.notes.map((n) => `  ${n}`)] : []),
  ].map(comment);
  const docs = result.resources.map((r) => `---\n${stringify(r, { lineWidth: 0, aliasDuplicateObjects: false })}`);
  return `${head.join('\n')}\n${docs.join('')}`;
}
