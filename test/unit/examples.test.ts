// Every config in examples/ loads through the real config loader (src/config/load.ts) with a
// dummy value for each ${VAR} it names: an example that a schema change broke fails here, not in a
// user's first run. A storage type the registry does not have fails with its own message first,
// so an example written ahead of its driver says which driver is missing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { STORAGE_DRIVERS } from '../../src/storage/registry.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const files = readdirSync(EXAMPLES)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

/** A dummy value for every `${NAME}` in the YAML's values (comments aside; `$${` is a literal). */
function dummyEnv(text: string): NodeJS.ProcessEnv {
  const names = [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!);
  return Object.fromEntries(names.map((name) => [name, `dummy-${name.toLowerCase()}`]));
}

describe('examples/*.yaml', () => {
  it('has examples to check', () => {
    assert.ok(files.includes('three-clouds.yaml'), `examples/ holds ${files.join(', ')}`);
  });

  for (const name of files) {
    it(`${name} loads through the config loader`, async () => {
      const file = join(EXAMPLES, name);
      const text = readFileSync(file, 'utf8');
      const registered = STORAGE_DRIVERS.map((driver) => driver.type as string);
      const data = parse(text) as { origins?: { storage?: { type?: string } }[] };
      const origins = data.origins ?? [];
      for (const type of origins.map((origin) => origin.storage?.type)) {
        assert.ok(
          type !== undefined && registered.includes(type),
          `examples/${name} uses storage type "${type}", which src/storage/registry.ts does not register (registered: ${registered.join(', ')})`,
        );
      }
      const env = dummyEnv(JSON.stringify(data));
      const { config } = await loadConfig(file, { env });
      assert.ok(config.origins.length > 0);
      // Every ${VAR} was used: the loaded config holds the dummy values, nothing was left literal.
      const loaded = JSON.stringify(config);
      assert.doesNotMatch(loaded, /\$\{/);
      for (const value of Object.values(env))
        assert.ok(loaded.includes(value!), `${value} reached the config`);
    });
  }
});
