/**
 * Plugin families (storage drivers, DNS providers) are listed once, in a registry of plugins. A
 * plugin is what a module that imports no SDK can say about a backend: its `type` in the config,
 * the zod schema of its options, its declared capabilities and the notes its README row prints;
 * plus `load`, which imports the implementation only when an instance is wanted. The config
 * schema (`pluginUnion`), the factory (`createPlugin`) and the README's tables (`configFields`,
 * `markdownTable`) are all built from the registry, so they cannot disagree.
 *
 * The options module declares; the registry adds `load`. An implementation imports its options
 * module (for its config type and capabilities), so a `load` inside the options module would make
 * an import cycle.
 */
import { z } from 'zod';
import { OutlastError } from './errors.ts';

/** A plugin's options: a strict object whose `type` is a literal, so a union can discriminate. */
export type OptionsSchema<Type extends string = string> = z.ZodObject<
  { type: z.ZodLiteral<Type> } & z.ZodRawShape,
  z.core.$strict
>;

/** What an options module declares about one plugin. */
export interface PluginDeclaration<
  Type extends string,
  Schema extends OptionsSchema<Type>,
  Capabilities,
  Docs,
> {
  /** The config's `type` value, e.g. `fs` or `route53`. */
  readonly type: Type;
  /** The options as they appear in the config file, `type` included. */
  readonly schema: Schema;
  /** What every instance can do, as declared (an instance may learn that it can do less). */
  readonly capabilities: Capabilities;
  /** The prose of the plugin's row in the README. */
  readonly docs: Docs;
}

export interface Plugin<Type extends string, Schema extends OptionsSchema<Type>, Capabilities, Docs, Instance>
  extends PluginDeclaration<Type, Schema, Capabilities, Docs> {
  /** Imports the implementation (and its SDK) and makes an instance from validated options. */
  load(options: z.output<Schema>): Promise<Instance>;
}

// biome-ignore lint/suspicious/noExplicitAny: the bound of every plugin, whatever its parameters
export type AnyPlugin = Plugin<string, OptionsSchema, unknown, unknown, any>;

/**
 * A plugin, typed so that `load` gets the output of its schema. Checks that the schema's `type`
 * literal is the plugin's `type`, so a copied module cannot claim another plugin's name.
 */
export function definePlugin<
  const Type extends string,
  Schema extends OptionsSchema<Type>,
  Capabilities,
  Docs,
  Instance,
>(
  plugin: Plugin<Type, Schema, Capabilities, Docs, Instance>,
): Plugin<Type, Schema, Capabilities, Docs, Instance> {
  if (plugin.schema.shape.type.value !== plugin.type) {
    throw new Error(`plugin ${plugin.type}: its schema's type is ${String(plugin.schema.shape.type.value)}`);
  }
  return plugin;
}

type SchemasOf<Plugins extends readonly AnyPlugin[]> = {
  -readonly [K in keyof Plugins]: Plugins[K]['schema'];
};

/** The config schema of a family: the plugins' option schemas, discriminated by `type`. */
export function pluginUnion<const Plugins extends readonly [AnyPlugin, ...AnyPlugin[]]>(plugins: Plugins) {
  const schemas = plugins.map((plugin) => plugin.schema) as unknown as SchemasOf<Plugins>;
  return z.discriminatedUnion('type', schemas);
}

/** The instance type a registry's plugins make. */
export type InstanceOf<P extends AnyPlugin> = Awaited<ReturnType<P['load']>>;

/** Makes an instance of the plugin named by `options.type` (validated options of one of them). */
export async function createPlugin<P extends AnyPlugin>(
  plugins: readonly P[],
  family: string,
  options: { type: string },
): Promise<InstanceOf<P>> {
  const plugin = plugins.find((candidate) => candidate.type === options.type);
  if (!plugin) {
    throw new OutlastError('invalid_config', `unknown ${family} type ${JSON.stringify(options.type)}`);
  }
  return (await plugin.load(options as z.output<P['schema']>)) as InstanceOf<P>;
}

/** The config keys of a plugin besides `type`; optional ones (or with a default) end with `?`. */
export function configFields(schema: OptionsSchema): string[] {
  return Object.entries(schema.shape)
    .filter(([key]) => key !== 'type')
    .map(([key, field]) => (z.safeParse(field, undefined).success ? `${key}?` : key));
}

/** A Markdown table; no cell's pipe or line break can end it early. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
