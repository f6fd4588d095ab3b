/** Builds sites and configs in temporary folders for the deploy tests. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { objectPath } from '../../src/storage/drivers/fs.ts';
import { captureStateDirs } from './canary.ts';

/** Names that must round-trip through every driver and through `outlast serve`. */
export const ODD_NAMES = [
  'index.html',
  '404.html',
  'with space.txt',
  'hash#tag.txt',
  'question?.txt',
  'percent%20literal.txt',
  'plus+sign.txt',
  'ünïcødé/café.html',
  'emoji-🚀.txt',
  '中文/文件.txt',
  'deep/a/b/c/d/e/f/g/h/file.js',
  'assets/app.css',
];

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `outlast-${prefix}-`));
}

export function writeSite(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [key, content] of Object.entries(files)) {
    const path = join(dir, ...key.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

export function removeSiteFile(dir: string, key: string): void {
  rmSync(join(dir, ...key.split('/')));
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface TestSetup {
  root: string;
  siteDir: string;
  origins: string[];
  config: Config;
  configFile: string;
  cleanup(): void;
}

/** A site folder, N fs origins and the config (also written to disk for the CLI). */
export function setupFsDeploy(options: {
  origins?: number;
  keepReleases?: number;
  deploy?: Record<string, number>;
  files?: Record<string, string | Uint8Array>;
}): TestSetup {
  const root = tempDir('deploy');
  const siteDir = join(root, 'site');
  mkdirSync(siteDir);
  writeSite(siteDir, options.files ?? {});
  const origins = Array.from({ length: options.origins ?? 2 }, (_, i) => join(root, `origin-${i}`));
  const doc = {
    site: {
      dir: siteDir,
      hostname: 'www.example.com',
      errorDocument: '404.html',
      keepReleases: options.keepReleases ?? 3,
      headers: [
        { match: 'assets/**', cacheControl: 'public, max-age=31536000, immutable' },
        { match: '**/*.html', cacheControl: 'public, max-age=60' },
      ],
    },
    ...(options.deploy ? { deploy: options.deploy } : {}),
    origins: origins.map((path, i) => ({ id: `o${i}`, storage: { type: 'fs', path } })),
  };
  const configFile = join(root, 'outlast.yaml');
  writeFileSync(configFile, stringify(doc));
  const { config } = parseConfig(stringify(doc), configFile);
  return {
    root,
    siteDir,
    origins,
    config,
    configFile,
    cleanup: () => {
      // The watcher state folders tests put here (root/state…) go to the secret canary's scan.
      captureStateDirs(root);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The bytes of `key` on an fs origin, or undefined. */
export function readOrigin(origin: string, key: string): Buffer | undefined {
  const path = objectPath(origin, key);
  return existsSync(path) ? readFileSync(path) : undefined;
}
