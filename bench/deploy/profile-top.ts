/**
 * The top entries of V8 CPU profiles (`npm run bench -- --cpu-prof DIR` writes them, one folder per
 * outlast run): self time by function and by package, so a closing note can say where the CPU went.
 *
 *   node --import tsx bench/deploy/profile-top.ts DIR [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const top = Number(values.top);

for (const dir of positionals) {
  for (const folder of folders(dir)) {
    const files = readdirSync(folder).filter((name) => name.endsWith('.cpuprofile'));
    for (const file of files) report(relative(process.cwd(), join(folder, file)), load(join(folder, file)));
  }
}

function folders(dir: string): string[] {
  const inside = readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isDirectory());
  return [dir, ...inside.flatMap(folders)];
}

function load(path: string): Profile {
  return JSON.parse(readFileSync(path, 'utf8')) as Profile;
}

/** Self time (µs) per node id, from the samples and their time deltas. */
function selfTimes(profile: Profile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return self;
}

function packageOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? `outlast ${url.slice(dist + 1)}` : url;
}

function report(name: string, profile: Profile): void {
  const self = selfTimes(profile);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const total = [...self.values()].reduce((sum, us) => sum + us, 0);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const where = frame.url === '' ? '' : ` ${packageOf(frame.url)}:${frame.lineNumber + 1}`;
    const fn = `${frame.functionName || '(anonymous)'}${where}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = packageOf(frame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const share = (us: number) =>
    `${((us * 100) / total).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(6)} s`;
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  process.stdout.write(
    `\n## ${name}: ${(total / 1e6).toFixed(2)} s sampled on the main thread\n\nby function (self):\n`,
  );
  for (const [fn, us] of sorted(byFunction)) process.stdout.write(`  ${share(us)}  ${fn}\n`);
  process.stdout.write('\nby package (self):\n');
  for (const [pkg, us] of sorted(byPackage)) process.stdout.write(`  ${share(us)}  ${pkg}\n`);
}
