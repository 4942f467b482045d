/** Interface name patterns: a Linux interface name (at most 15 characters), `*` allowed only at the end. */
export function checkInterfacePattern(p: string): string | null {
  if (p.length === 0) return 'must not be empty';
  const base = p.endsWith('*') ? p.slice(0, -1) : p;
  if (base.includes('*')) return `"${p}": "*" is only allowed as the last character`;
  if (base.length > 15) return `"${p}" is longer than an interface name can be (15 characters)`;
  if (!/^[A-Za-z0-9_.:@-]*$/.test(base)) return `"${p}" contains characters an interface name cannot have`;
  if (p === '*') return '"*" would judge every interface, including the host\'s own uplink';
  return null;
}

/** Does interface `name` match `pattern` (trailing `*` = prefix)? */
export function interfaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}
