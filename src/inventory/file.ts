/** `--inventory FILE`: a JSON snapshot of Docker's networks and containers, validated. */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { PolicyError } from '../errors.js';
import type { Diagnostic, PathSegment } from '../policy/diagnostic.js';
import type { Inventory } from './types.js';

const networkSchema = z.strictObject({
  id: z.string().optional(),
  name: z.string().min(1),
  driver: z.string().default('bridge'),
  bridge: z.string().optional(),
  subnets: z.array(z.string()).default([]),
  gateways: z.array(z.string()).default([]),
  ipv6: z.boolean().default(false),
  internal: z.boolean().default(false),
});

const containerSchema = z.strictObject({
  id: z.string().optional(),
  name: z.string().min(1),
  networkMode: z.string().default('default'),
  labels: z.record(z.string(), z.string()).default({}),
  networks: z
    .array(z.strictObject({ network: z.string(), ipv4: z.string().optional(), ipv6: z.string().optional() }))
    .default([]),
  composeProject: z.string().optional(),
  dns: z.array(z.string()).optional(),
  labelsFromImage: z.array(z.string()).optional(),
});

export const inventoryFileSchema = z.strictObject({
  networks: z.array(networkSchema).default([]),
  containers: z.array(containerSchema).default([]),
});

export function parseInventory(text: string, file: string): Inventory {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PolicyError([{ severity: 'error', path: [], message: `not JSON: ${(e as Error).message}`, file }], `${file}: not JSON`);
  }
  const r = inventoryFileSchema.safeParse(data);
  if (!r.success) {
    const diags: Diagnostic[] = r.error.issues.map((i) => ({ severity: 'error', path: i.path as PathSegment[], message: i.message, file }));
    throw new PolicyError(diags, `${file}: invalid inventory`);
  }
  return { ...r.data, source: `file:${file}` };
}

export function loadInventoryFile(file: string): Inventory {
  if (!existsSync(file)) throw new PolicyError([{ severity: 'error', path: [], message: 'no such file', file }], `inventory file not found: ${file}`);
  return parseInventory(readFileSync(file, 'utf8'), file);
}
