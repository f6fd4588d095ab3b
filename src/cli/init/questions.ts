/**
 * The machinery of `outlast init`'s answers: a `Question`, the `Asker` that answers it (on a
 * terminal, or from defaults only, recording what is missing), and the `--origin` / `--dns` specs
 * (`TYPE[:LOCATION][,KEY=VALUE...]`) whose keys answer questions before they are asked. A bad
 * value in a spec is an error naming the flag, never echoing a value that may be a secret.
 */
import { suggestKey } from '../../config/errors.ts';
import { DNS_TYPES, type DnsType, ORIGIN_TYPES, type OriginType } from '../../config/template.ts';
import { OutlastError } from '../../errors.ts';
import { type Check, checkEnvPrefix, envPrefix, splitList } from './checks.ts';

/** One thing to find out. */
export interface Question {
  /** How to give it on the command line, for the list of missing answers: `--name HOST`. */
  flag: string;
  /** What it is about on a terminal, before the prompt: `origin s3`. */
  topic?: string;
  /** The question (lowercase), also the explanation beside a missing flag. */
  prompt: string;
  /** The explanation beside a missing flag, when the prompt does not fit there. */
  missing?: string;
  example?: string;
  /** Taken when nothing is given, on a terminal (shown) and off one. */
  default?: string;
  /** Offered on a terminal only: likely, but not safe to assume in a script. */
  suggestion?: string;
  /** An empty answer leaves the setting out. */
  optional?: boolean;
  choices?: readonly string[];
  check?: Check;
}

export interface Asker {
  /** The answer; undefined when left empty (optional) or, off a terminal, missing. */
  ask(question: Question): Promise<string | undefined>;
  /** A yes/no question; off a terminal, the default. */
  confirm(prompt: string, defaultYes: boolean): Promise<boolean>;
}

/** A missing answer, as the flag that would give it. */
export interface MissingAnswer {
  flag: string;
  what: string;
}

/** The asker for scripts: defaults, else a missing answer; never a prompt. */
export class FlagsOnlyAsker implements Asker {
  readonly missing: MissingAnswer[] = [];
  /** @param why Why nothing is asked, for the error listing what is missing. */
  constructor(readonly why = 'stdin is not a terminal to ask them') {}
  async ask(question: Question): Promise<string | undefined> {
    if (question.default !== undefined) return question.default;
    if (!question.optional) {
      const text = question.missing ?? question.prompt;
      const what = question.example ? `${text}, e.g. ${question.example}` : text;
      this.missing.push({ flag: question.flag, what });
    }
    return undefined;
  }
  async confirm(_prompt: string, defaultYes: boolean): Promise<boolean> {
    return defaultYes;
  }
}

/** Keys of `--origin`: for every type, and per type. */
export const ORIGIN_KEYS = {
  common: ['id', 'url', 'cname', 'ip', 'prefix'],
  fs: [],
  s3: ['region', 'endpoint', 'path-style', 'profile', 'env'],
  swift: ['auth', 'auth-url', 'region', 'env'],
} as const;

/** Keys of `--dns`, per type. */
export const DNS_KEYS = {
  route53: ['zone', 'hosted-zone-id', 'profile'],
  cloudflare: ['zone', 'zone-id', 'env'],
  dnsmadeeasy: ['domain', 'env'],
  powerdns: ['url', 'server-id', 'zone', 'env'],
  rfc2136: ['server', 'zone', 'tsig', 'algorithm', 'env'],
  embedded: ['zone', 'listen', 'ns'],
} as const;

const REPEATABLE = new Set(['ip', 'listen', 'ns']);
export const LOCATION: Record<OriginType, string> = { fs: 'FOLDER', s3: 'BUCKET', swift: 'CONTAINER' };
const SECRET_KEY = /secret|password|passwd|token|api-?key|access-?key|^key$|credential/i;
export const HINT = 'outlast init --help shows every flag and the keys of --origin and --dns, with examples';

/** A parsed `--origin` or `--dns`, or one being asked about (label = flag). */
export interface Spec {
  flag: '--origin' | '--dns';
  /** How errors name it: `--origin s3:my-bucket`; never a value that may be secret. */
  label: string;
  type: string;
  location: string | undefined;
  keys: Map<string, string[]>;
  /** The topic of its questions on a terminal, once known: `origin s3`. */
  topic?: string;
  /** An origin's id, once known: the default prefix of its variables. */
  id?: string;
  /** Given as a flag (rather than asked about on a terminal). */
  given: boolean;
}

export function specError(label: string, message: string): OutlastError {
  return new OutlastError('invalid_argument', `${label}: ${message}`, { hint: HINT });
}

/** `s3:my-bucket,region=eu-west-1` → its parts, the type and the keys checked against the type's. */
export function parseSpec(flag: '--origin' | '--dns', text: string): Spec {
  const isOrigin = flag === '--origin';
  const [head = '', ...pairs] = text.split(',');
  const colon = isOrigin ? head.indexOf(':') : -1;
  const type = colon === -1 ? head : head.slice(0, colon);
  const location = colon === -1 ? undefined : head.slice(colon + 1);
  const types: readonly string[] = isOrigin ? ORIGIN_TYPES : [...DNS_TYPES, 'none'];
  if (!types.includes(type)) {
    const suggestion = suggestKey(type, types);
    const shown = JSON.stringify(type.length > 20 ? `${type.slice(0, 19)}…` : type);
    throw specError(
      `${flag} ${shown}`,
      `expected a type among ${types.join(', ')}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
    );
  }
  const label = isOrigin ? `${flag} ${type}:${location ?? ''}` : `${flag} ${type}`;
  if (isOrigin && !location) {
    throw specError(label, `expected ${type}:${LOCATION[type as OriginType]}, e.g. ${exampleOrigin(type)}`);
  }
  const allowed: readonly string[] = isOrigin
    ? [...ORIGIN_KEYS.common, ...ORIGIN_KEYS[type as OriginType]]
    : type === 'none'
      ? []
      : DNS_KEYS[type as DnsType];
  const keys = new Map<string, string[]>();
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    const key = (equals === -1 ? pair : pair.slice(0, equals)).trim();
    const value = equals === -1 ? '' : pair.slice(equals + 1);
    if (!allowed.includes(key)) {
      // The value is not repeated: it may be the secret itself.
      if (SECRET_KEY.test(key)) {
        throw specError(
          label,
          `"${key}" looks like a secret: secrets are neither given to init nor written in the file; ` +
            'outlast reads them from environment variables, whose names env=PREFIX chooses',
        );
      }
      const suggestion = suggestKey(key, allowed);
      throw specError(
        label,
        `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; ` +
          (allowed.length > 0 ? `the keys of ${type} are ${allowed.join(', ')}` : `${type} takes no keys`),
      );
    }
    const values = keys.get(key) ?? [];
    if (values.length > 0 && !REPEATABLE.has(key)) throw specError(label, `${key}= is given twice`);
    keys.set(key, [...values, value]);
  }
  return { flag, label, type, location, keys, given: true };
}

function exampleOrigin(type: string): string {
  if (type === 'fs') return 'fs:/var/www/site';
  if (type === 's3') return 's3:www.example.com';
  return 'swift:www';
}

/** A spec for an origin or DNS host asked about on a terminal rather than given. */
export function askedSpec(flag: '--origin' | '--dns', type: string): Spec {
  return { flag, label: flag, type, location: undefined, keys: new Map(), given: false };
}

export type KeyQuestion = Omit<Question, 'flag' | 'topic'>;

/**
 * A key's value from the spec (checked), else the question's answer. A spec given as a flag is
 * asked only what it cannot do without: the keys with a default or none were left out on purpose.
 */
export async function key(spec: Spec, name: string, asker: Asker, question: KeyQuestion) {
  const values = spec.keys.get(name);
  if (values === undefined) {
    if (spec.given && (question.default !== undefined || question.optional)) return question.default;
    const flag = spec.given ? `${spec.label},${name}=${placeholder(name)}` : spec.flag;
    return asker.ask({ ...question, flag, topic: spec.topic });
  }
  const value = values[0] ?? '';
  const problem = value === '' ? 'expected a value' : question.check?.(value);
  if (problem) throw specError(spec.label, `${name}=${value}: ${problem}`);
  return value;
}

/** A repeatable key's values (each checked), else the answer split on spaces and commas. */
export async function list(spec: Spec, name: string, asker: Asker, question: KeyQuestion) {
  const values = spec.keys.get(name);
  if (values !== undefined) {
    for (const value of values) {
      const problem = value === '' ? 'expected a value' : question.check?.(value);
      if (problem) throw specError(spec.label, `${name}=${value}: ${problem}`);
    }
    return values;
  }
  const answer = await key(spec, name, asker, {
    ...question,
    check: (text) => {
      const items = splitList(text);
      if (items.length === 0) return 'expected at least one';
      return items.map((item) => question.check?.(item)).find((problem) => problem !== undefined);
    },
  });
  return answer === undefined ? undefined : splitList(answer);
}

function placeholder(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** The prefix of the variables a secret is read from; the default is made from the id or provider. */
export function envQuestion(spec: Spec, suffixes: readonly string[], base?: string): KeyQuestion {
  const fallback = envPrefix(base ?? spec.id ?? spec.type);
  return {
    prompt: `the prefix of the environment variables its secrets are read from (${suffixes.map((suffix) => `PREFIX_${suffix}`).join(', ')})`,
    default: fallback,
    check: checkEnvPrefix,
  };
}
