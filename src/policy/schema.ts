/**
 * The policy file's schema (zod). Structure and types only; the meaning of strings (CIDRs, ports,
 * rates, patterns) is checked in normalize.ts so that every message can be precise.
 * schema/policy.schema.json is generated from this (see `lanfence schema`).
 */
import { z } from 'zod';

export const PORT_PATTERN = '^[0-9]+(-[0-9]+)?/(tcp|udp)$';
export const RATE_PATTERN = '^1/[0-9]+(s|m|h)$';
export const CEILING_PATTERN = '^[0-9]+/(s|m|h)$';
export const INTERFACE_PATTERN = '^[A-Za-z0-9_.:@-]{1,15}\\*?$|^[A-Za-z0-9_.:@-]{0,14}\\*$';

const cidrList = z.array(z.string().meta({ description: 'CIDR or address, IPv4 or IPv6' }));

export const scopeSchema = z
  .strictObject({
    network: z.string().min(1).optional().meta({ description: 'a Docker network name' }),
    container: z.string().min(1).optional().meta({ description: 'a container name' }),
    label: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'containers carrying this label, as key=value' }),
  })
  .meta({ description: 'which containers the exception applies to (exactly one key); omitted: every container' });

export const exceptionSchema = z
  .strictObject({
    to: z.string().meta({ description: 'address or CIDR (IPv4 or IPv6), or the word "host" for the host\'s own addresses' }),
    ports: z
      .array(
        z
          .union([z.string(), z.int()], { error: 'expected PORT/PROTO like 5432/tcp' })
          .meta({ pattern: PORT_PATTERN, description: 'PORT/PROTO or FROM-TO/PROTO, e.g. 5432/tcp, 8000-8100/tcp' }),
      )
      .min(1)
      .optional()
      .meta({ description: 'omitted: every port and protocol' }),
    from: scopeSchema.optional(),
    comment: z.string().max(100).optional().meta({ description: 'shown by plan, explain and in the rules' }),
  })
  .meta({ description: 'an exception: judged before any block; it passes the packet on to the host\'s other rules' });

export const policySchema = z
  .strictObject({
    mode: z.enum(['enforce', 'audit']).optional().meta({ description: 'audit logs what would be dropped, drops nothing' }),
    action: z.enum(['drop', 'reject']).optional().meta({ description: 'what enforce mode does with a blocked connection' }),
    backend: z.enum(['auto', 'nftables', 'iptables', 'firewalld']).optional(),
    protect: z
      .strictObject({
        networks: z
          .union([z.literal('default'), cidrList], { error: 'expected "default" or a list of CIDRs' })
          .optional()
          .meta({ description: '"default" (the built-in list) or an explicit list of CIDRs' }),
        extra: cidrList.optional().meta({ description: 'CIDRs blocked in addition' }),
        host: z.boolean().optional().meta({ description: 'block containers from every address of the host itself' }),
      })
      .optional(),
    containers: z
      .strictObject({
        interfaces: z
          .union([z.literal('auto'), z.array(z.string().meta({ pattern: INTERFACE_PATTERN }))], {
            error: 'expected "auto" or a list of interface name patterns',
          })
          .optional()
          .meta({ description: 'auto: docker0, br-*, docker_gwbridge and every bridge Docker reports; or name patterns (trailing * only)' }),
      })
      .optional(),
    allow: z.array(exceptionSchema).optional(),
    log: z
      .strictObject({
        prefix: z.string().optional().meta({ description: 'kernel log prefix, at most 29 characters' }),
        rate: z.string().optional().meta({ pattern: RATE_PATTERN, description: 'at most one line per (source, destination, port) per period, e.g. 1/10s' }),
        ceiling: z
          .string()
          .optional()
          .meta({ pattern: CEILING_PATTERN, description: 'at most this many lines over all containers, e.g. 50/s (default), whatever the number of flows: a port scan cannot flood the log' }),
        burst: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .optional()
          .meta({ description: 'lines the ceiling lets through at once before the rate applies (default 500)' }),
      })
      .optional(),
  })
  .meta({ title: 'lanfence policy', description: 'Keeps containers off the local network and off their own host.' });

export type PolicyInput = z.infer<typeof policySchema>;
export type ExceptionInput = z.infer<typeof exceptionSchema>;

/** JSON Schema (draft 2020-12) for editors, generated from the zod schema. */
export function policyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(policySchema, { io: 'input' }) as Record<string, unknown>;
}
