/**
 * The bad-input corpus (test/fixtures/bad/), read into one list of cases, for the e2e test that
 * runs each through the CLI (test/e2e/bad-input.test.ts) and for the table in docs/bad-input.md
 * (scripts/bad-input-table.ts).
 *
 * Three kinds of case file, one case each:
 *   - `config/*.yaml`: the config itself, with the expectation in `# key: value` comment lines at
 *     the top (`case`, `command`, `exit`, `path`, `message`);
 *   - `site/*.yaml`: a site folder to make at test time (symlinks, modes, raw byte names cannot
 *     live in git), and the expectation;
 *   - `answers/*.yaml`: a fake store or DNS server and what it answers, and the expectation.
 *
 * The key cases are not files: every key of `base.yaml` is, in turn, removed (when the schema
 * requires it), given a value of the wrong type, and misspelt. Deriving them keeps them in step
 * with the schema (a new key gets its three cases without anyone writing them); the table in
 * docs/bad-input.md lists every one, so they can be read all the same.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { formatPath, type PathSegment } from '../../src/config/errors.ts';
import { configSchema } from '../../src/config/schema.ts';

export const CORPUS_DIR = fileURLToPath(new URL('../fixtures/bad/', import.meta.url));

/** Variables every case's CLI run gets, so that base.yaml's `${VAR}`s are set. */
export const CASE_ENV: Readonly<Record<string, string>> = {
  OUTLAST_BAD_PDNS_KEY: 'bad-corpus-pdns-key',
  OUTLAST_BAD_TSIG_SECRET: 'YmFkLWNvcnB1cy10c2lnLXNlY3JldA==',
  OUTLAST_BAD_SWIFT_KEY: 'bad-corpus-swift-key',
};

interface CaseBase {
  /** `config/unset-var`, `keys/origins[0].id/missing`: unique, stable, shown in the table. */
  id: string;
  /** What is wrong, in words. */
  title: string;
  /** The CLI's arguments after `outlast` (the config is always `outlast.yaml` in the run's folder). */
  command: string[];
  exit: number;
  /** Text that must appear in the output (stderr; stdout too for `check`, whose findings go there). */
  message: string;
  /** The config path the message must name, when the case is about one. */
  path?: string;
  /** Why the case cannot pass yet (a product defect outside this corpus's reach); run as a todo. */
  todo?: string;
  /** Why the case cannot run on this machine at all. */
  skip?: string;
}

export interface ConfigCase extends CaseBase {
  kind: 'config';
  /** The file as written to `outlast.yaml`. */
  text: string;
  /** Where the input is described, for the table. */
  input: string;
}

/** One entry of a site folder; `path` may hold `\xNN` escapes for raw bytes (non-UTF-8 names). */
export interface SiteEntry {
  path: string;
  content?: string;
  /** A symlink to this target (relative to the link's folder, or absolute). */
  symlink?: string;
  /** File mode, e.g. 0 for unreadable; such a case runs the CLI as another user when root. */
  mode?: number;
  /** A sparse file of this many bytes. */
  size?: number;
  /** The CLI appends to this file after its first read of it (see test/helpers/change-on-read.mjs). */
  changeOnRead?: boolean;
}

export interface SiteCase extends CaseBase {
  kind: 'site';
  input: string;
  files: SiteEntry[];
}

/** A route of a fake HTTP server: the first whose method and path prefix match answers. */
export interface FakeRoute {
  method: string;
  path: string;
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface AnswerCase extends CaseBase {
  kind: 'answer';
  input: string;
  /** `s3` and `swift` stand in for an origin's store, `powerdns` and `rfc2136` for a DNS host. */
  fake: 's3' | 'swift' | 'powerdns' | 'rfc2136';
  routes?: FakeRoute[];
  /** rfc2136: the UDP reply to every query, as hex; `{id}` is the query's id. */
  reply?: string;
  /** The site's files (default: one index.html). */
  files?: SiteEntry[];
}

export type BadCase = ConfigCase | SiteCase | AnswerCase;

export function loadCorpus(): BadCase[] {
  return [...configCases(), ...keyCases(), ...siteCases(), ...answerCases()];
}

function filesIn(folder: string): string[] {
  return readdirSync(join(CORPUS_DIR, folder))
    .filter((name) => name.endsWith('.yaml'))
    .sort();
}

function configCases(): ConfigCase[] {
  return filesIn('config').map((name) => {
    const text = readFileSync(join(CORPUS_DIR, 'config', name), 'utf8');
    const meta: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const match = /^# (\w+): (.*)$/.exec(line);
      if (!match) break;
      meta[match[1]!] = match[2]!;
    }
    const id = `config/${name.replace(/\.yaml$/, '')}`;
    for (const key of ['case', 'command', 'exit', 'message']) {
      if (meta[key] === undefined) throw new Error(`${id}: no "# ${key}:" line at the top`);
    }
    return {
      kind: 'config',
      id,
      title: meta.case!,
      input: `test/fixtures/bad/config/${name}`,
      command: meta.command!.split(' '),
      exit: Number(meta.exit),
      message: meta.message!,
      ...(meta.path === undefined ? {} : { path: meta.path }),
      ...(meta.todo === undefined ? {} : { todo: meta.todo }),
      text,
    };
  });
}

function dataCases<T>(folder: string, make: (id: string, data: Record<string, unknown>) => T): T[] {
  return filesIn(folder).map((name) => {
    const id = `${folder}/${name.replace(/\.yaml$/, '')}`;
    const data = parseDocument(readFileSync(join(CORPUS_DIR, folder, name), 'utf8')).toJS() as Record<
      string,
      unknown
    >;
    for (const key of ['case', 'command', 'exit', 'message']) {
      if (data[key] === undefined) throw new Error(`${id}: no ${key}`);
    }
    return make(id, data);
  });
}

function common(id: string, data: Record<string, unknown>): CaseBase {
  return {
    id,
    title: String(data.case),
    command: String(data.command).split(' '),
    exit: Number(data.exit),
    message: String(data.message),
    ...(data.path === undefined ? {} : { path: String(data.path) }),
    ...(data.todo === undefined ? {} : { todo: String(data.todo) }),
    ...(data.skip === undefined ? {} : { skip: String(data.skip) }),
  };
}

function siteCases(): SiteCase[] {
  return dataCases('site', (id, data) => ({
    ...common(id, data),
    kind: 'site',
    input: `test/fixtures/bad/${id}.yaml`,
    files: data.files as SiteEntry[],
  }));
}

function answerCases(): AnswerCase[] {
  return dataCases('answers', (id, data) => ({
    ...common(id, data),
    kind: 'answer',
    input: `test/fixtures/bad/${id}.yaml`,
    fake: data.fake as AnswerCase['fake'],
    ...(data.routes === undefined ? {} : { routes: data.routes as FakeRoute[] }),
    ...(data.reply === undefined ? {} : { reply: String(data.reply) }),
    ...(data.files === undefined ? {} : { files: data.files as SiteEntry[] }),
  }));
}

// ---- the key cases, derived from base.yaml and the schema ----

/** A value of another type than `value`, one the schema cannot take where `value` was. */
function wrongTypeFor(value: unknown): unknown {
  if (typeof value === 'string') return 12345;
  if (typeof value === 'number' || typeof value === 'boolean') return 'some text';
  if (Array.isArray(value)) return 'some text';
  return ['a', 'list'];
}

/** `keepReleases` → `keepReleasess`-like: one letter doubled, one edit away from the real key. */
export function misspell(key: string): string {
  const at = Math.min(2, key.length - 1);
  return key.slice(0, at) + key[at] + key.slice(at);
}

function keyCases(): ConfigCase[] {
  const text = readFileSync(join(CORPUS_DIR, 'base.yaml'), 'utf8');
  const data = parseDocument(text).toJS() as unknown;
  const cases: ConfigCase[] = [];
  for (const path of keyPaths(data, [])) {
    const key = path[path.length - 1] as string;
    const parent = path.slice(0, -1);
    const shown = formatPath(path);
    const value = valueAt(data, path);
    const base = { kind: 'config' as const, command: ['plan'], exit: 2 };
    if (isRequired(path, data)) {
      cases.push({
        ...base,
        id: `keys/${shown}/missing`,
        title: `${shown} missing`,
        input: `base.yaml without ${shown}`,
        path: shown,
        message: 'got nothing',
        text: edit(text, path, (map) => map.delete(key)),
      });
    }
    // Replacing the discriminator of a union picks no branch; its wrong type is the "missing" case's.
    cases.push({
      ...base,
      id: `keys/${shown}/wrong-type`,
      title: `${shown} of the wrong type`,
      input: `base.yaml with ${shown}: ${JSON.stringify(wrongTypeFor(value))}`,
      path: shown,
      message: 'expected',
      text: edit(text, path, (map) => map.set(key, wrongTypeFor(value))),
    });
    const typo = misspell(key);
    cases.push({
      ...base,
      id: `keys/${shown}/misspelt`,
      title: `${shown} misspelt`,
      input: `base.yaml with ${formatPath([...parent, typo])}`,
      ...(parent.length > 0 ? { path: formatPath(parent) } : {}),
      message: `unknown key "${typo}" (did you mean "${key}"?)`,
      text: edit(text, path, (map) => {
        const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
        if (pair && isScalar(pair.key)) pair.key.value = typo;
      }),
    });
  }
  return cases;
}

/** Every mapping key's path in plain data, parents before children. */
function keyPaths(value: unknown, path: PathSegment[]): PathSegment[][] {
  if (Array.isArray(value)) return value.flatMap((item, index) => keyPaths(item, [...path, index]));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => [[...path, key], ...keyPaths(item, [...path, key])]);
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) current = (current as Record<PathSegment, unknown>)[segment];
  return current;
}

/** The YAML text with the mapping that holds `path`'s last key changed, comments kept. */
function edit(text: string, path: readonly PathSegment[], change: (map: YAMLMap) => void): string {
  const doc = parseDocument(text);
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) throw new Error(`base.yaml: no mapping at ${formatPath(path.slice(0, -1))}`);
  change(parent);
  return doc.toString();
}

/** Whether the schema has no default for the key at `path` (of `data`): leaving it out is an error. */
function isRequired(path: readonly PathSegment[], data: unknown): boolean {
  let schemas: z.core.$ZodType[] = [configSchema];
  let value: unknown = data;
  for (const segment of path) {
    schemas = schemas.flatMap((schema) => concrete(schema, value));
    schemas = schemas.flatMap((schema) => {
      if (typeof segment === 'number') return schema instanceof z.ZodArray ? [schema.element] : [];
      if (!(schema instanceof z.ZodObject)) return [];
      const field = (schema.shape as Record<string, z.core.$ZodType | undefined>)[segment];
      return field ? [field] : [];
    });
    value = (value as Record<PathSegment, unknown>)[segment];
  }
  if (schemas.length === 0) throw new Error(`the schema has no key ${formatPath(path)}`);
  return schemas.every((schema) => !z.safeParse(schema, undefined).success);
}

/** The object, array or scalar schemas behind wrappers and unions (a discriminated one picks by data). */
function concrete(schema: z.core.$ZodType, value: unknown): z.core.$ZodType[] {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable
    )
      current = current.unwrap();
    else if (current instanceof z.ZodPipe) current = current.in;
    else break;
  }
  if (current instanceof z.ZodDiscriminatedUnion) {
    const discriminator = current._zod.def.discriminator;
    const tag = (value as Record<string, unknown> | undefined)?.[discriminator];
    const options: readonly z.core.$ZodType[] = current.options;
    return options
      .filter((option) => option._zod.propValues?.[discriminator]?.has(tag as z.core.util.Primitive))
      .flatMap((option) => concrete(option, value));
  }
  if (current instanceof z.ZodUnion) {
    const options: readonly z.core.$ZodType[] = current.options;
    return options.flatMap((option) => concrete(option, value));
  }
  return [current];
}
