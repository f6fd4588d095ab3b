/**
 * No module of src/ imports itself back through others, not even for a type, and not through a
 * lazy `import()`: a cycle makes the load order matter (a value used before its module ran) and
 * ties the layers of the design together. The graph is read from the sources' relative imports.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
/** `import … from './x.ts'`, `export … from './x.ts'`, `import('./x.ts')`, `import type …`. */
const RELATIVE_IMPORT = /(?:^\s*(?:import|export)\s[^'"]*?\bfrom\s+|\bimport\(\s*)'(\.{1,2}\/[^']+)'/gm;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Strongly connected components of more than one module (or a module importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (node: string): void => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) connect(node);
  return found;
}

describe('import graph of src/', () => {
  const files = sources(SRC);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const imports = [...readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)].map((match) =>
      relative(SRC, resolve(dirname(file), match[1]!)),
    );
    graph.set(relative(SRC, file), imports);
  }

  it('reads the imports it should (the check itself works)', () => {
    assert.ok(files.length > 50, `${files.length} modules`);
    assert.ok(graph.get('cli/main.ts')?.includes('cli/commands/deploy.ts'), 'a lazy import() is an edge');
    assert.ok(graph.get('cli/commands/deploy.ts')?.includes('cli/options.ts'), 'an `import type` is an edge');
    assert.deepEqual(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['d']],
          ['e', ['a']],
        ]),
      ),
      [['a', 'b', 'c'], ['d']],
    );
  });

  it('has no cycle, type-only and lazy imports included', () => {
    assert.deepEqual(cycles(graph), []);
  });
});
