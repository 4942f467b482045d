/** A problem found in a policy file, with where it is. */
export type Severity = 'error' | 'warning';
export type PathSegment = string | number;

export interface Position {
  line: number;
  col: number;
}

export interface Diagnostic {
  severity: Severity;
  /** Dotted path of the offending field, e.g. `allow.0.ports.1`. */
  path: PathSegment[];
  message: string;
  file?: string;
  pos?: Position;
}

export function dottedPath(path: PathSegment[]): string {
  return path.length === 0 ? '(root)' : path.join('.');
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}:${d.pos ? `${d.pos.line}:${d.pos.col}` : '1:1'}` : d.pos ? `${d.pos.line}:${d.pos.col}` : '';
  return `${where ? `${where}: ` : ''}${d.severity}: ${dottedPath(d.path)}: ${d.message}`;
}

export const errorsOf = (ds: Diagnostic[]): Diagnostic[] => ds.filter((d) => d.severity === 'error');
export const warningsOf = (ds: Diagnostic[]): Diagnostic[] => ds.filter((d) => d.severity === 'warning');
