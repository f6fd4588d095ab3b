/**
 * Config fields that several sections and plugin option schemas share: durations, HOST:PORT,
 * DNS TTLs, TSIG keys, http(s) URLs. Imports only zod and src/util, so a plugin's options module
 * (src/storage/drivers/*-options.ts, src/dns/providers/*) can use them without importing the
 * whole config schema (schema.ts imports the plugin registries, so that would be a cycle).
 */
import { z } from 'zod';
import { parseDuration } from '../util/duration.ts';

/** A duration such as `500ms`, `5s` or `1m`, as milliseconds. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 500ms, 5s or 1m, got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

/** An http or https URL, e.g. an S3-compatible endpoint or an identity service. */
export const httpUrl = z.url({ protocol: /^https?$/ });

export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: 'expected HOST:PORT, e.g. 127.0.0.1:53' });

/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
export const dnsTtl = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);

export const tsigSchema = z.strictObject({
  name: z.string().min(1),
  algorithm: z.enum(['hmac-sha256', 'hmac-sha512']).default('hmac-sha256'),
  /** Base64, as BIND's and Knot's key files write it. */
  secret: z.string().min(1),
});
