/**
 * What `outlast init` needs to know, from its flags or, for what they leave out, from questions.
 * The flow is written once against an `Asker`: on a terminal it asks (again after a bad answer);
 * otherwise it takes defaults and records each missing answer, so that one error lists every flag
 * to add. A bad flag value is an error naming the flag. Nothing here does I/O.
 *
 * `--origin TYPE:LOCATION[,KEY=VALUE...]` and `--dns TYPE[,KEY=VALUE...]` carry the per-type
 * settings (`ORIGIN_KEYS`, `DNS_KEYS`). Secrets are never answers: only the prefix of the
 * variables they are read from (`env=PREFIX`).
 */
import { resolve } from 'node:path';
import {
  DNS_TYPES,
  type DnsAnswer,
  type InitAnswers,
  ORIGIN_TYPES,
  type OriginAnswer,
  type OriginType,
} from '../../config/template.ts';
import { OutlastError } from '../../errors.ts';
import { checkHostname, defaultTarget, parseTarget, pathForFile } from './checks.ts';
import { gatherDns } from './dns.ts';
import { gatherOrigin, type OriginContext } from './origins.ts';
import {
  type Asker,
  askedSpec,
  FlagsOnlyAsker,
  HINT,
  LOCATION,
  type MissingAnswer,
  parseSpec,
  type Question,
  specError,
} from './questions.ts';

export interface InitFlags {
  site?: string;
  name?: string;
  origin?: string[];
  dns?: string[];
}

export interface InitContext {
  /** Where relative paths given as flags or answers start. */
  cwd: string;
  /** The config file's folder: paths are written relative to it. */
  configDir: string;
  /** The site folder offered on a terminal (a build folder found in cwd). */
  siteSuggestion?: string;
}

/** Gathers every answer; throws `invalid_argument` for a bad flag value, or listing what is missing. */
export async function gatherAnswers(
  flags: InitFlags,
  asker: Asker,
  context: InitContext,
): Promise<InitAnswers> {
  // Every spec is parsed first: a typo in the last flag should not wait behind a dozen questions.
  const originSpecs = (flags.origin ?? []).map((text) => parseSpec('--origin', text));
  const dnsSpecs = (flags.dns ?? []).map((text) => parseSpec('--dns', text));
  if (dnsSpecs.some((spec) => spec.type === 'none') && dnsSpecs.length > 1) {
    throw specError('--dns none', 'cannot be combined with another --dns');
  }
  const site = await given(flags.site, '--site', asker, {
    flag: '--site DIR',
    prompt: "the built site's folder",
    suggestion: context.siteSuggestion ?? 'public',
    check: (text) => (text.trim() === '' ? 'expected a folder' : undefined),
  });
  const name = await given(flags.name, '--name', asker, {
    flag: '--name HOST',
    prompt: 'the host name users type (site.hostname and dns.name)',
    example: 'www.example.com',
    check: checkHostname,
  });

  const origins: Array<OriginAnswer | undefined> = [];
  const originContext: OriginContext = {
    ...context,
    name,
    site: site === undefined ? undefined : resolve(context.cwd, site),
    ids: new Set(),
  };
  if (originSpecs.length > 0) {
    for (const spec of originSpecs) origins.push(await gatherOrigin(spec, asker, originContext));
  } else {
    const typeQuestion = (n: number): Question => ({
      flag: '--origin TYPE:LOCATION[,KEY=VALUE...]',
      topic: `origin ${n}`,
      prompt: `its type (${ORIGIN_TYPES.join(', ')})`,
      choices: ORIGIN_TYPES,
    });
    let type = await askedOriginType(asker, {
      ...typeQuestion(1),
      missing: `each origin (repeat the flag), the preferred first: ${ORIGIN_TYPES.map((type) => `${type}:${LOCATION[type]}`).join(', ')}, with url=URL and what the type needs`,
    });
    while (type !== undefined) {
      origins.push(await gatherOrigin(askedSpec('--origin', type), asker, originContext));
      const more = await asker.confirm('Another origin?', origins.length < 2);
      type = more ? await askedOriginType(asker, typeQuestion(origins.length + 1)) : undefined;
    }
  }

  const dns: Array<DnsAnswer | undefined> = [];
  const dnsChoices = [...DNS_TYPES, 'none'];
  if (dnsSpecs.length > 0) {
    for (const spec of dnsSpecs) if (spec.type !== 'none') dns.push(await gatherDns(spec, asker, name));
  } else {
    let type = await asker.ask({
      flag: '--dns TYPE[,KEY=VALUE...]',
      prompt: `the DNS host that moves the name (${dnsChoices.join(', ')}; none: no failover)`,
      missing: `the DNS host that moves the name: ${dnsChoices.join(', ')} (none: no failover)`,
      choices: dnsChoices,
    });
    while (type !== undefined && type !== 'none') {
      dns.push(await gatherDns(askedSpec('--dns', type), asker, name));
      type = (await asker.confirm('Another DNS host (each gets every change)?', false))
        ? await asker.ask({
            flag: '--dns TYPE',
            prompt: `the other DNS host (${DNS_TYPES.join(', ')})`,
            choices: DNS_TYPES,
          })
        : undefined;
    }
  }

  if (dns.length > 0) {
    for (const [index, origin] of origins.entries()) {
      if (origin === undefined || origin.target !== undefined) continue;
      const fallback = defaultTarget(origin.url);
      // Given as a flag without cname= or ip=: the default, as for the other keys it left out.
      const answer = originSpecs[index]
        ? fallback
        : await asker.ask({
            flag: '--origin',
            topic: `origin ${origin.id}`,
            prompt: `what ${name ?? 'the name'} points to while it is chosen: a host name (a CNAME), or IP addresses`,
            default: fallback,
            check: (text) => (parseTarget(text) ? undefined : 'expected one host name, or IP addresses'),
          });
      const target = answer === undefined ? undefined : parseTarget(answer);
      if (target) origin.target = target;
    }
  }

  if (asker instanceof FlagsOnlyAsker && asker.missing.length > 0)
    throw missingError(asker.missing, asker.why);
  if (site === undefined || name === undefined) throw new Error('init: an answer went missing');
  return {
    siteDir: pathForFile(resolve(context.cwd, site), context.configDir),
    name,
    origins: origins.filter((origin) => origin !== undefined),
    dns: dns.filter((provider) => provider !== undefined),
  };
}

async function askedOriginType(asker: Asker, question: Question): Promise<OriginType | undefined> {
  return (await asker.ask(question)) as OriginType | undefined;
}

function missingError(missing: readonly MissingAnswer[], why: string): OutlastError {
  const width = Math.min(44, Math.max(...missing.map((entry) => entry.flag.length)));
  const lines = missing.map((entry) => `  ${entry.flag.padEnd(width)}  ${entry.what}`);
  return new OutlastError(
    'invalid_argument',
    [`init needs answers that the command line did not give, and ${why}; nothing written:`, ...lines].join(
      '\n',
    ),
    { hint: HINT },
  );
}

/** A top-level flag's value, checked, or the question's answer. */
async function given(
  value: string | undefined,
  flag: string,
  asker: Asker,
  question: Question,
): Promise<string | undefined> {
  if (value === undefined) return asker.ask(question);
  const problem = question.check?.(value);
  if (problem) throw specError(`${flag} ${JSON.stringify(value)}`, problem);
  return value;
}
