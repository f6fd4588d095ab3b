/**
 * The benchmark's site: a deterministic tree of html, css, js and png-like files whose sizes follow
 * the skew of real static sites (most files a few KB, a few of more than 1 MB), scaled so that
 * 10,000 files weigh about 230 MB like the baseline in the shared Swift notes.
 *
 * Everything comes from one seeded PRNG, so two runs (or two machines) deploy the same bytes. A
 * file's bytes are a function of (seed, index, version): `writeSite` writes version 0 of every
 * file, and `setVersion(1)` rewrites the 100 files of the "1 % changed" step (version 0 restores
 * them before the next target's cold deploy).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface SiteFile {
  /** The key: a relative path with `/`. */
  key: string;
  size: number;
  kind: Kind;
}

export interface GeneratedSite {
  dir: string;
  files: SiteFile[];
  totalBytes: number;
  /** Indexes of the files the "1 % changed" step rewrites. */
  changed: number[];
  seed: number;
}

type Kind = 'html' | 'css' | 'js' | 'png' | 'svg' | 'json';

const MIN_SIZE = 200;
const MAX_SIZE = 2 * 1024 * 1024;
/** 230 MB over 10,000 files. */
const MEAN_SIZE = 23_000;
export const DEFAULT_SEED = 20_240_601;

/** Kinds by weight, each with the median size of its log-normal distribution. */
const KINDS: Array<{ kind: Kind; weight: number; median: number; sigma: number }> = [
  { kind: 'html', weight: 30, median: 9_000, sigma: 0.9 },
  { kind: 'css', weight: 6, median: 6_000, sigma: 1.4 },
  { kind: 'js', weight: 16, median: 8_000, sigma: 1.6 },
  { kind: 'png', weight: 40, median: 14_000, sigma: 1.6 },
  { kind: 'svg', weight: 5, median: 2_500, sigma: 1.0 },
  { kind: 'json', weight: 3, median: 1_500, sigma: 1.2 },
];

const SECTIONS = ['blog', 'docs', 'guides', 'products', 'news', 'help', 'api', 'about'];
const WORDS =
  'the of and a to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(
    ' ',
  );

/** sfc32: small, fast, and good enough; seeded through splitmix32 so that close seeds diverge. */
export function prng(seed: number): () => number {
  const split = (): number => {
    seed = (seed + 0x9e3779b9) | 0;
    let z = seed;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function pickKind(random: () => number): (typeof KINDS)[number] {
  const total = KINDS.reduce((sum, k) => sum + k.weight, 0);
  let r = random() * total;
  for (const k of KINDS) {
    r -= k.weight;
    if (r < 0) return k;
  }
  return KINDS[KINDS.length - 1]!;
}

const clamp = (size: number) => Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.round(size)));

/** Names and sizes only; no I/O. */
export function planSite(count: number, seed = DEFAULT_SEED): Omit<GeneratedSite, 'dir'> {
  const random = prng(seed);
  const drafts = Array.from({ length: count }, (_, index) => {
    const kind = pickKind(random);
    return { index, kind: kind.kind, raw: kind.median * Math.exp(kind.sigma * normal(random)) };
  });
  // Scale so that the clamped sizes average MEAN_SIZE; a few bisection steps are plenty.
  let low = 0.01;
  let high = 100;
  for (let step = 0; step < 60; step++) {
    const mid = Math.sqrt(low * high);
    const mean = drafts.reduce((sum, d) => sum + clamp(d.raw * mid), 0) / Math.max(1, count);
    if (mean < MEAN_SIZE) low = mid;
    else high = mid;
  }
  const files: SiteFile[] = drafts.map((d) => ({
    key: keyFor(d.index, d.kind, random),
    size: clamp(d.raw * low),
    kind: d.kind,
  }));
  // Keys are unique by construction (the index is in the name); 1 % of them change later.
  const changed = pickDistinct(random, count, Math.max(1, Math.round(count / 100)));
  return { files, totalBytes: files.reduce((sum, f) => sum + f.size, 0), changed, seed };
}

function keyFor(index: number, kind: Kind, random: () => number): string {
  const id = String(index).padStart(5, '0');
  const section = SECTIONS[Math.floor(random() * SECTIONS.length)]!;
  switch (kind) {
    case 'html': {
      // Pages nest 1–4 deep: blog/2019/07/post-00042/index.html and the like.
      const depth = 1 + Math.floor(random() * 4);
      const parts = [section];
      for (let level = 1; level < depth; level++) parts.push(`${section}-${Math.floor(random() * 12)}`);
      return random() < 0.5
        ? `${parts.join('/')}/page-${id}/index.html`
        : `${parts.join('/')}/page-${id}.html`;
    }
    case 'png':
      return `assets/img/${section}/${Math.floor(random() * 20)}/img-${id}.png`;
    case 'svg':
      return `assets/icons/icon-${id}.svg`;
    case 'css':
      return `assets/css/${section}/style-${id}.css`;
    case 'js':
      return `assets/js/${section}/chunk-${id}.js`;
    case 'json':
      return `${section}/data/data-${id}.json`;
  }
}

function pickDistinct(random: () => number, count: number, wanted: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(wanted, count)) chosen.add(Math.floor(random() * count));
  return [...chosen].sort((a, b) => a - b);
}

/** The bytes of file `index` at `version`: text for text kinds, a PNG signature then noise for png. */
export function contentOf(file: SiteFile, index: number, seed: number, version: number): Buffer {
  const random = prng(seed ^ Math.imul(index + 1, 0x27d4eb2d) ^ Math.imul(version, 0x165667b1));
  // A changed file is an edit: a little longer or shorter, like a real one.
  const size = version === 0 ? file.size : clamp(file.size + Math.floor((random() - 0.3) * 400));
  const bytes = Buffer.allocUnsafe(size);
  if (file.kind === 'png') {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(size / 4));
    for (let i = 0; i < words.length; i++) words[i] = (random() * 4294967296) >>> 0;
    for (let i = words.length * 4; i < size; i++) bytes[i] = (random() * 256) | 0;
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0, 0, Math.min(8, size));
    return bytes;
  }
  const header = `${version === 0 ? '' : `/* v${version} */ `}<!-- ${file.key} -->\n`;
  let at = bytes.write(header.slice(0, size), 'latin1');
  while (at < size) {
    const word = WORDS[Math.floor(random() * WORDS.length)]!;
    at += bytes.write(random() < 0.08 ? `${word}\n` : `${word} `, at, 'latin1');
  }
  return bytes;
}

/** Writes version 0 of every file under `dir`. */
export function writeSite(dir: string, count: number, seed = DEFAULT_SEED): GeneratedSite {
  const plan = planSite(count, seed);
  const made = new Set<string>();
  plan.files.forEach((file, index) => {
    const path = join(dir, ...file.key.split('/'));
    const parent = dirname(path);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    writeFileSync(path, contentOf(file, index, seed, 0));
  });
  return { ...plan, dir };
}

/** Rewrites the "changed" files with `version`'s bytes (0 = as first written). Returns their bytes. */
export function setVersion(site: GeneratedSite, version: number): number {
  let bytes = 0;
  for (const index of site.changed) {
    const file = site.files[index]!;
    const content = contentOf(file, index, site.seed, version);
    writeFileSync(join(site.dir, ...file.key.split('/')), content);
    bytes += content.length;
  }
  return bytes;
}
