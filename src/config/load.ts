/**
 * Reads `outlast.yaml`: YAML with `${NAME}` taken from the environment, validated by
 * `configSchema`. Every problem is reported at once, each with the file, line:column, the path in
 * the data and what was expected; values that came from the environment are never shown.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from 'yaml';
import type { ClusterConfig } from '../cluster/options.ts';
import type { EdgeConfig } from '../edge/options.ts';
import { messageOf, OutlastError } from '../errors.ts';
import {
  DEFAULT_MESSAGE,
  describeIssue,
  formatPath,
  type PathSegment,
  type Problem,
  problemsError,
  type SecretSource,
} from './errors.ts';
import { type Config, configSchema } from './schema.ts';

/** A validated config and where it came from. */
export interface LoadedConfig {
  /** Defaults filled in; `site.dir` and the `path` of `fs` origins are absolute. */
  config: Config;
  /** The config file's absolute path. */
  file: string;
  /** The folder of the file, against which relative paths were resolved. */
  baseDir: string;
}

/** Options for reading from text. */
export interface ParseConfigOptions {
  /** Where `${NAME}` is looked up; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Options for reading a file. */
export interface LoadConfigOptions extends ParseConfigOptions {
  /** The folder a relative `file` is found in; defaults to `process.cwd()`. */
  cwd?: string;
}

/**
 * Reads, interpolates, validates. `file` defaults to 'outlast.yaml' in `cwd`. Throws an
 * `OutlastError` with code `invalid_config` for a missing or unreadable file and for any problem
 * in it, naming the file as given (relative is fine in messages).
 */
export async function loadConfig(
  file = 'outlast.yaml',
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const absolute = resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new OutlastError('invalid_config', readFailure(file, cwd, error), { cause: error });
  }
  return parseText(text, file, absolute, options.env ?? process.env);
}

/**
 * Same from text, for tests and for configs embedded in the tool (the demo). `file` names the
 * text in messages; relative paths in the config resolve against its folder (from the process's
 * working directory when `file` is relative).
 */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): LoadedConfig {
  return parseText(text, file, resolve(file), options.env ?? process.env);
}

const MAX_SYNTAX_ERRORS = 5;

function readFailure(file: string, cwd: string, error: unknown): string {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT') {
    const where = isAbsolute(file) ? '' : ` in ${cwd}`;
    return `config file ${file} not found${where} (use --config to choose another)`;
  }
  if (code === 'EISDIR') return `config file ${file} is a directory, not a file`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot read config file ${file}: permission denied`;
  return `cannot read config file ${file}: ${messageOf(error)}`;
}

function parseText(text: string, file: string, absolute: string, env: NodeJS.ProcessEnv): LoadedConfig {
  const lineCounter = new LineCounter();
  // prettyErrors off: the position is formatted here, like every other problem's.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => {
      const message =
        error.code === 'DUPLICATE_KEY'
          ? `duplicate key ${JSON.stringify(keyAt(doc, error.pos[0]))} (a key may appear once in a mapping)`
          : error.message;
      return { ...at(error.pos[0]), path: [], message };
    });
    // After the first syntax error yaml often reports a cascade that the same fix removes.
    const shown = problems.slice(0, MAX_SYNTAX_ERRORS);
    const more = problems.length - shown.length;
    if (more > 0)
      shown.push({ ...shown[shown.length - 1]!, message: `and ${more} more, likely caused by the above` });
    throw problemsError(file, 'invalid YAML', shown);
  }
  if (doc.contents === null) {
    throw new OutlastError(
      'invalid_config',
      `${file}: the file is empty; expected settings such as site: and origins:`,
    );
  }
  if (!isMap(doc.contents)) {
    const kind = isSeq(doc.contents) ? 'a list' : 'a single value';
    const problem = {
      ...at(doc.contents.range?.[0] ?? 0),
      path: [],
      message: `expected a mapping of settings (site:, origins:, ...) at the top level, got ${kind}`,
    };
    throw problemsError(file, 'invalid configuration', [problem]);
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new OutlastError('invalid_config', `${file}: ${messageOf(error)}`, { cause: error });
  }
  const interpolation = new Interpolation(env);
  const data = interpolation.walk(raw, []);
  const problems: Problem[] = interpolation.problems.map((problem) => ({
    ...locate(doc, lineCounter, problem.path),
    ...problem,
  }));

  const result = configSchema.safeParse(data, { error: () => DEFAULT_MESSAGE });
  if (!result.success) {
    const context = { schema: configSchema, data, secrets: interpolation.secrets };
    for (const line of result.error.issues.flatMap((issue) => describeIssue(issue, context))) {
      // The value stood in for a missing variable, which is already reported.
      if (interpolation.unset.has(formatPath(line.path))) continue;
      problems.push({
        ...locate(doc, lineCounter, line.path, line.key),
        path: line.path,
        message: line.message,
      });
    }
  }
  if (problems.length > 0 || !result.success) throw problemsError(file, 'invalid configuration', problems);

  const baseDir = dirname(absolute);
  return { config: resolvePaths(result.data, baseDir), file: absolute, baseDir };
}

/** The key whose node starts at an offset; yaml points a duplicate key error there. */
function keyAt(doc: Document, offset: number): string {
  let found = '?';
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** Paths in the file are relative to the file, not to wherever the tool was started. */
function resolvePaths(config: Config, baseDir: string): Config {
  return {
    ...config,
    site: { ...config.site, dir: resolve(baseDir, config.site.dir) },
    origins: config.origins.map((origin) =>
      origin.storage.type === 'fs'
        ? { ...origin, storage: { ...origin.storage, path: resolve(baseDir, origin.storage.path) } }
        : origin,
    ),
    watch: {
      ...config.watch,
      stateDir: resolve(baseDir, config.watch.stateDir),
      ...(config.watch.cluster?.etcd.tls ? { cluster: withTlsPaths(config.watch.cluster, baseDir) } : {}),
    },
    ...(config.edge === undefined ? {} : { edge: withEdgePaths(config.edge, baseDir) }),
  };
}

/** The edge's cache folder and its TLS files, relative to the config file. */
function withEdgePaths(edge: EdgeConfig, baseDir: string): EdgeConfig {
  const at = (path: string | undefined) => (path === undefined ? undefined : resolve(baseDir, path));
  const tls = edge.tls;
  return {
    ...edge,
    cache: { ...edge.cache, dir: resolve(baseDir, edge.cache.dir) },
    ...(tls === undefined
      ? {}
      : {
          tls: {
            ...tls,
            ...(tls.cert === undefined ? {} : { cert: at(tls.cert) }),
            ...(tls.key === undefined ? {} : { key: at(tls.key) }),
            ...(tls.acme === undefined
              ? {}
              : {
                  acme: {
                    ...tls.acme,
                    dir: resolve(baseDir, tls.acme.dir),
                    ...(tls.acme.ca === undefined ? {} : { ca: at(tls.acme.ca) }),
                  },
                }),
          },
        }),
  };
}

/** The cluster's etcd TLS files (`ca`, `cert`, `key`), relative to the config file. */
function withTlsPaths(cluster: ClusterConfig, baseDir: string): ClusterConfig {
  const tls = cluster.etcd.tls!;
  return {
    ...cluster,
    etcd: {
      ...cluster.etcd,
      tls: {
        ...(tls.ca === undefined ? {} : { ca: resolve(baseDir, tls.ca) }),
        ...(tls.cert === undefined ? {} : { cert: resolve(baseDir, tls.cert) }),
        ...(tls.key === undefined ? {} : { key: resolve(baseDir, tls.key) }),
      },
    },
  };
}

/** `$${` is a literal `${`; `${NAME}` is a variable; any other `${` is a mistake worth reporting. */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{/g;

/** Replaces `${NAME}` in every string value, remembering which values came from the environment. */
class Interpolation {
  /** Env-derived values by path, so messages never show them. */
  readonly secrets = new Map<string, SecretSource>();
  /** Paths whose value needed a variable that is not set. */
  readonly unset = new Set<string>();
  readonly problems: { path: PathSegment[]; message: string }[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  walk(value: unknown, path: PathSegment[]): unknown {
    if (typeof value === 'string') return this.string(value, path);
    if (Array.isArray(value)) return value.map((item, index) => this.walk(item, [...path, index]));
    if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, this.walk(item, [...path, key])]),
      );
    }
    return value;
  }

  private string(text: string, path: PathSegment[]): string {
    if (!text.includes('${')) return text;
    const vars: string[] = [];
    const result = text.replace(REFERENCE, (match, name: string | undefined) => {
      if (match === '$${') return '${';
      if (name === undefined) {
        this.fail(
          path,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the message is about that syntax.
          'expected ${NAME} with NAME made of letters, digits and _ (write $${ for a literal ${)',
        );
        return '';
      }
      const value = this.env[name];
      if (value === undefined) {
        this.fail(path, `environment variable ${name} is not set`);
        return '';
      }
      vars.push(name);
      return value;
    });
    if (vars.length > 0) this.secrets.set(formatPath(path), { vars, value: result });
    return result;
  }

  private fail(path: PathSegment[], message: string): void {
    this.unset.add(formatPath(path));
    this.problems.push({ path, message });
  }
}

/**
 * The line and column for a path: the value's node, or the key's when asked for a key or when the
 * value is empty, or the nearest existing parent when the path leads nowhere (a missing key).
 */
function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PathSegment[],
  key?: string,
): { line: number; col: number } {
  const steps = key === undefined ? path : [...path, key];
  let node: unknown = doc.contents;
  let offset = isNode(node) ? (node.range?.[0] ?? 0) : 0;
  for (const [index, segment] of steps.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      const keyOffset = isNode(pair.key) ? pair.key.range?.[0] : undefined;
      const range = isNode(pair.value) ? pair.value.range : undefined;
      const pointAtKey = index === steps.length - 1 && key !== undefined;
      const empty = !range || range[0] === range[1];
      offset = (pointAtKey || empty ? keyOffset : range?.[0]) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (!isNode(item)) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return lineCounter.linePos(offset);
}
