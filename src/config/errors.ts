/**
 * Turns zod's issues about `outlast.yaml` into lines a person can act on: which setting
 * (`origins[1].storage.bucket`), what was expected in plain words, and what was found, except
 * when what was found came from the environment: that may be a secret and is never shown.
 */
import { z } from 'zod';
import { OutlastError } from '../errors.ts';

/** One step of a path into the config data: a mapping key or a list index. */
export type PathSegment = string | number;

/** A value that came (wholly or partly) from the environment, found at one path. */
export interface SecretSource {
  /** The variables it was made from, in order of appearance. */
  vars: readonly string[];
  /** The resulting text, to be kept out of messages. */
  value: string;
}

/** What describing an issue needs to know beyond the issue itself. */
export interface IssueContext {
  /** The schema the data was checked against, walked to find the keys allowed at a place. */
  schema: z.core.$ZodType;
  /** The data given to the schema, after interpolation. */
  data: unknown;
  /** Env-derived values, by `formatPath(path)`. */
  secrets: ReadonlyMap<string, SecretSource>;
}

/** An issue in words: the path it is about, and `key` when it is about a key rather than a value. */
export interface IssueLine {
  path: PathSegment[];
  key?: string;
  message: string;
}

/** One line of a report, located in the file (1-based line and column). */
export interface Problem {
  line: number;
  col: number;
  path: readonly PathSegment[];
  message: string;
}

/**
 * Passed as the parse-time error map, so that a message still equal to it is zod's default (to
 * be rewritten here) and any other message was written by the schema's author (kept).
 */
export const DEFAULT_MESSAGE = '\u0000outlast-default-message';

/** `origins[1].storage.bucket`; keys that are not plain words are quoted: `site["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(segment)))
      out += out ? `.${String(segment)}` : String(segment);
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** The `invalid_config` error listing every problem, sorted by position. */
export function problemsError(file: string, title: string, problems: readonly Problem[]): OutlastError {
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
  const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
  const lines = sorted.map((problem) => {
    const where = `${file}:${problem.line}:${problem.col}`;
    const path = formatPath(problem.path);
    return `  ${where} ${path ? `${path}: ` : ''}${problem.message}`;
  });
  return new OutlastError('invalid_config', [`${file}: ${title} (${count})`, ...lines].join('\n'));
}

/** The closest known key to a misspelt one: same letters in another case, or at most 2 edits away. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = known.find((candidate) => candidate.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = levenshtein(lower, candidate.toLowerCase());
    // A distance as long as the key itself would turn any short key into any other.
    if (distance < bestDistance && distance < key.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Edit distance (insertions, deletions, substitutions), one row at a time. */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** One issue in words; unknown keys give one line each, so each can point at its own key. */
export function describeIssue(
  issue: z.core.$ZodIssue,
  context: IssueContext,
  base: PathSegment[] = [],
): IssueLine[] {
  const path = [
    ...base,
    ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
  ];
  const authored = issue.message === DEFAULT_MESSAGE ? undefined : scrub(issue.message, context, path);
  const got = (): string => received(context, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(context.schema, path, context.data);
      return issue.keys.map((key) => {
        // Known yet refused: the key belongs to another form of a union than the one the rest chose.
        if (known.includes(key)) {
          return { path, key, message: `key "${key}" cannot be used together with the others here` };
        }
        const suggestion = suggestKey(key, known);
        return {
          path,
          key,
          message: `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
        };
      });
    }
    case 'invalid_union': {
      if (authored) return [{ path, message: authored }];
      if (issue.discriminator !== undefined && 'options' in issue && issue.options) {
        const expected = `expected one of ${issue.options.map(String).join(', ')}, got ${got()}`;
        return [{ path, message: expected + misspeltDiscriminator(context, path, issue.discriminator) }];
      }
      const branch = bestBranch(issue.errors);
      if (branch) return branch.flatMap((inner) => describeIssue(inner, context, path));
      return [{ path, message: `does not match any of the allowed forms, got ${got()}` }];
    }
    case 'custom':
      return [{ path, message: authored ?? 'is not valid' }];
    default: {
      const expected = authored ?? expectation(issue);
      if (!expected.startsWith('expected')) return [{ path, message: expected }];
      const value = valueAt(context.data, path);
      const sized = issue.code === 'too_small' || issue.code === 'too_big';
      // For a size limit on a list, its length is what was found; "got a list" would say nothing.
      if (sized && Array.isArray(value)) return [{ path, message: `${expected}, got ${value.length}` }];
      if (sized && typeof value === 'object' && value !== null) return [{ path, message: expected }];
      return [{ path, message: `${expected}, got ${got()}` }];
    }
  }
}

/** `; unknown key "typpe" (did you mean "type"?)` when the missing `type` is there misspelt. */
function misspeltDiscriminator(context: IssueContext, path: readonly PathSegment[], discriminator: string) {
  const objectPath = path[path.length - 1] === discriminator ? path.slice(0, -1) : path;
  const value = valueAt(context.data, objectPath);
  if (typeof value !== 'object' || value === null || discriminator in value) return '';
  const typo = Object.keys(value).find((key) => suggestKey(key, [discriminator]) === discriminator);
  return typo === undefined ? '' : `; unknown key "${typo}" (did you mean "${discriminator}"?)`;
}

/** What zod's default message would have said, in plain words. */
function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${typeName(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      return `expected ${bound(issue.origin, 'at least', 'more than', issue.minimum, issue.inclusive)}`;
    case 'too_big':
      return `expected ${bound(issue.origin, 'at most', 'less than', issue.maximum, issue.inclusive)}`;
    case 'invalid_format':
      return `expected ${FORMAT_NAMES[issue.format] ?? `a valid ${issue.format}`}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}`;
    default:
      return 'expected a valid value';
  }
}

const FORMAT_NAMES: Record<string, string> = {
  url: 'an http:// or https:// URL',
  ipv4: 'an IPv4 address such as 192.0.2.10',
  ipv6: 'an IPv6 address such as 2001:db8::10',
  email: 'an email address',
  regex: 'text in the expected format',
};

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
  };
  return names[expected] ?? `a ${expected}`;
}

function bound(
  origin: string,
  inclusiveWord: string,
  exclusiveWord: string,
  limit: number | bigint,
  inclusive = true,
) {
  const word = inclusive ? inclusiveWord : exclusiveWord;
  if (origin === 'string')
    return limit === 1 && inclusive ? 'a non-empty string' : `${word} ${limit} characters`;
  if (origin === 'array') return `${word} ${limit} ${limit === 1 ? 'item' : 'items'}`;
  return `${word} ${limit}`;
}

/**
 * The branch of a failed plain union that most likely is what the user meant: the one with the
 * fewest problems, where a branch whose very shape is wrong counts as far off.
 */
function bestBranch(branches: readonly z.core.$ZodIssue[][]): z.core.$ZodIssue[] | undefined {
  const score = (branch: readonly z.core.$ZodIssue[]) =>
    branch.reduce((sum, issue) => sum + (issue.path.length === 0 && issue.code !== 'custom' ? 100 : 1), 0);
  let best: z.core.$ZodIssue[] | undefined;
  for (const branch of branches) if (!best || score(branch) < score(best)) best = branch;
  return best;
}

/** How to show the value found at `path`: quoted text, a number, a kind of thing, never a secret. */
function received(context: IssueContext, path: readonly PathSegment[]): string {
  const secret = context.secrets.get(formatPath(path));
  if (secret) return `a value from ${secret.vars.map((name) => '${' + name + '}').join(' and ')} (not shown)`;
  const value = valueAt(context.data, path);
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 39)}…` : value);
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Authored messages may quote the value (a duplicate id); keep an env-derived one out. */
function scrub(message: string, context: IssueContext, path: readonly PathSegment[]): string {
  const secret = context.secrets.get(formatPath(path));
  if (!secret) return message;
  return message
    .split(secret.value)
    .join(`<from ${secret.vars.map((name) => '${' + name + '}').join(' and ')}>`);
}

/** The value at a path in plain data, or undefined where the path leads nowhere. */
export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}

/** The keys an object schema allows at a path; unions contribute the keys of every branch that may apply. */
function knownKeysAt(schema: z.core.$ZodType, path: readonly PathSegment[], data: unknown): string[] {
  let candidates = [schema];
  let value = data;
  for (const segment of path) {
    candidates = candidates
      .flatMap((candidate) => expand(candidate, value))
      .flatMap((candidate) => {
        if (typeof segment === 'number') return candidate instanceof z.ZodArray ? [candidate.element] : [];
        if (!(candidate instanceof z.ZodObject)) return [];
        const field = (candidate.shape as Record<string, z.core.$ZodType | undefined>)[segment];
        return field ? [field] : [];
      });
    value = valueAt(value, [segment]);
  }
  const keys = candidates
    .flatMap((candidate) => expand(candidate, value))
    .flatMap((candidate) => (candidate instanceof z.ZodObject ? Object.keys(candidate.shape) : []));
  return [...new Set(keys)];
}

/** The concrete schemas behind wrappers and unions, given the data (a discriminated union picks by it). */
function expand(schema: z.core.$ZodType, value: unknown): z.core.$ZodType[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodDiscriminatedUnion) {
    const discriminator = inner._zod.def.discriminator;
    const tag = valueAt(value, [discriminator]);
    const options: readonly z.core.$ZodType[] = inner.options;
    const matching = options.filter((option) =>
      option._zod.propValues?.[discriminator]?.has(tag as z.core.util.Primitive),
    );
    return (matching.length > 0 ? matching : options).flatMap((option) => expand(option, value));
  }
  if (inner instanceof z.ZodUnion) {
    const options: readonly z.core.$ZodType[] = inner.options;
    return options.flatMap((option) => expand(option, value));
  }
  return [inner];
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNonOptional ||
      current instanceof z.ZodReadonly ||
      current instanceof z.ZodCatch ||
      current instanceof z.ZodLazy
    ) {
      current = current.unwrap();
    } else if (current instanceof z.ZodPipe) {
      current = current.in;
    } else {
      return current;
    }
  }
}
