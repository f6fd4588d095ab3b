// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
/**
 * The secret canary's full scenario (issue 14, item 7): every kind of secret outlast takes, set to
 * a canary (test/helpers/canary.ts) or, where a real server here fixes it, to that server's own
 * secret (scanned for just the same), and then everything outlast printed, stored and served is
 * captured and searched for every form of every one of them. Through the CLI, as a user runs it:
 * `setup --create` and `deploy --json` to the real Swift clusters (S3 API on A, native API on B)
 * and two fs origins; the same with wrong credentials (canaries), for the error messages, also
 * with `--debug`; `check` with wrong DNS credentials on every provider; `outlast watch` with
 * PowerDNS (API), Knot (RFC 2136 + TSIG) and the Route 53, Cloudflare and DNS Made Easy stand-ins,
 * plus a PowerDNS and a BIND provider with wrong credentials, the watcher token from OUTLAST_TOKEN,
 * a signed webhook and SMTP with a password; pause and resume with the token and with a wrong one;
 * a failover provoked by stopping the first origin; /status, /metrics, the dashboard, the state
 * folder and the event log read and kept. The test checks its own captures (so it also holds when
 * run alone) and leaves them in the run's capture folder for scripts/test.mjs's final scan.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { stringify } from 'yaml';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { CANARIES, capture } from '../helpers/canary.ts';
import { scanTexts } from '../helpers/canary-scan.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/notify.ts';
import { freePort } from '../helpers/ports.ts';
import { setupFsDeploy, type TestSetup } from '../helpers/site.ts';
import { type DnsServer, dnsServersForTests, lockZone, query, resetZone } from '../servers/dns.ts';
import { type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';
import { CloudflareStandIn } from '../standins/cloudflare.ts';
import { DnsMadeEasyStandIn } from '../standins/dnsmadeeasy.ts';
import { Route53StandIn } from '../standins/route53.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const ZONE = 'example.test';
const NAME = `www.${ZONE}`;
const ADDRESS = {
  'local-a': '192.0.2.31',
  'local-b': '192.0.2.32',
  'cloud-b': '192.0.2.33',
  'cloud-a': '192.0.2.34',
};
const R53_ZONE_ID = 'Z0CANARY000000000000001';
const silent = pino({ level: 'silent' });

/** Everything this test saw from outlast, by name: checked here, and kept for the run's scan. */
const seen: Array<{ where: string; text: string }> = [];
function keep(where: string, text: string): string {
  seen.push({ where, text });
  capture(`secret-canary-${where}`, text);
  return text;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function outlast(label: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, CI: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => {
      keep(`${label}-stdout`, stdout);
      keep(`${label}-stderr`, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A local SMTP server that takes mail after a login with the canary password. */
async function startSmtpSink(): Promise<{ port: number; mails: string[]; close(): Promise<void> }> {
  const mails: string[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'outlast' && auth.password === CANARIES.smtpPassword) {
        callback(null, { user: 'outlast' });
      } else callback(new Error('invalid login'));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function answers(server: DnsServer): Promise<string> {
  const result = await query(server, NAME, 'A');
  return result.answers
    .filter((answer) => answer.type === 'A')
    .map((answer) => answer.data)
    .sort()
    .join();
}

let swift: { a: SwiftCluster; b: SwiftCluster };
let dns: { pdns: DnsServer; knot: DnsServer; bind: DnsServer };
const unlocks: Array<() => Promise<void>> = [];

before(async () => {
  [swift, dns] = await Promise.all([swiftClustersForTests(), dnsServersForTests()]);
  for (const server of [dns.pdns, dns.knot, dns.bind]) unlocks.push(await lockZone(server));
  await Promise.all([dns.pdns, dns.knot, dns.bind].map((server) => resetZone(server)));
});

after(async () => {
  if (dns) await Promise.all([dns.pdns, dns.knot, dns.bind].map((server) => resetZone(server)));
  for (const unlock of unlocks.reverse()) await unlock();
});

test('no secret, canary or real, appears in anything outlast prints, stores or serves', {
  timeout: 240_000,
}, async () => {
  const { a, b } = swift;
  const { pdns, knot, bind } = dns;
  const setup: TestSetup = setupFsDeploy({
    origins: 2,
    files: { 'index.html': '<h1>canary</h1>', '404.html': 'nope', 'assets/app.css': 'body{}' },
  });
  const servers: RunningServer[] = [];
  const route53 = new Route53StandIn();
  const cloudflare = new CloudflareStandIn();
  const dme = new DnsMadeEasyStandIn();
  let hook: WebhookReceiver | undefined;
  let smtp: Awaited<ReturnType<typeof startSmtpSink>> | undefined;
  let watcher: ReturnType<typeof spawn> | undefined;
  let watcherExited: Promise<number | null> | undefined;
  try {
    servers.push(await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0, logger: silent }));
    servers.push(await startServer({ dir: setup.origins[1]!, host: '127.0.0.3', port: 0, logger: silent }));
    route53.secretAccessKey = CANARIES.route53SecretAccessKey;
    await route53.start();
    route53.addZone(R53_ZONE_ID, ZONE);
    await cloudflare.start();
    cloudflare.addToken(CANARIES.cloudflareApiToken);
    const cfZone = cloudflare.addZone(ZONE);
    await dme.start();
    dme.keys.set('canary-dme-key', CANARIES.dnsMadeEasySecretKey);
    const dmeDomain = dme.addDomain(ZONE);
    hook = await startWebhookReceiver(CANARIES.webhookSecret);
    smtp = await startSmtpSink();

    const bucket = `canary-${randomBytes(4).toString('hex')}`;
    const container = `canary-${randomBytes(4).toString('hex')}`;
    const statusPort = await freePort();
    const stateDir = join(setup.root, 'state');
    const tsig = knot.tsig[0]!;
    // The good credentials: the real servers' own, the stand-ins' and people's canaries.
    const good: Record<string, string> = {
      S3_KEY_ID: a.s3AccessKeyId,
      S3_SECRET: a.s3SecretAccessKey,
      SWIFT_KEY: b.key,
      PDNS_KEY: pdns.apiKey!,
      TSIG_SECRET: tsig.secret,
      BAD_PDNS_KEY: CANARIES.powerDnsApiKey,
      BAD_TSIG_SECRET: CANARIES.tsigSecret,
      AWS_ACCESS_KEY_ID: route53.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CANARIES.route53SecretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      CF_TOKEN: CANARIES.cloudflareApiToken,
      DME_SECRET: CANARIES.dnsMadeEasySecretKey,
      HOOK_URL: `${hook.url}/hooks/${CANARIES.webhookUrlSecret}`,
      HOOK_SECRET: CANARIES.webhookSecret,
      SMTP_PASSWORD: CANARIES.smtpPassword,
      OUTLAST_TOKEN: CANARIES.watcherToken,
      OUTLAST_LOG_LEVEL: 'debug',
    };
    // Every credential wrong, each a canary (or one with a tail), so that its errors are scanned.
    const wrong: Record<string, string> = {
      ...good,
      S3_SECRET: CANARIES.s3SecretAccessKey,
      SWIFT_KEY: CANARIES.swiftKey,
      PDNS_KEY: CANARIES.powerDnsApiKey,
      TSIG_SECRET: CANARIES.tsigSecret,
      AWS_SECRET_ACCESS_KEY: `${CANARIES.route53SecretAccessKey}-wrong`,
      CF_TOKEN: `${CANARIES.cloudflareApiToken}-wrong`,
      DME_SECRET: `${CANARIES.dnsMadeEasySecretKey}-wrong`,
      OUTLAST_TOKEN: `${CANARIES.watcherToken}-wrong`,
    };
    const origins = [
      {
        id: 'local-a',
        storage: { type: 'fs', path: setup.origins[0] },
        url: servers[0]!.url,
        dns: { a: [ADDRESS['local-a']] },
      },
      {
        id: 'local-b',
        storage: { type: 'fs', path: setup.origins[1] },
        url: servers[1]!.url,
        dns: { a: [ADDRESS['local-b']] },
      },
      {
        id: 'cloud-b',
        storage: {
          type: 'swift',
          container,
          auth: { type: 'tempauth', url: b.authUrl, user: b.user, key: '${SWIFT_KEY}' },
        },
        url: `${b.storageUrl}/${container}`,
        dns: { a: [ADDRESS['cloud-b']] },
      },
      {
        id: 'cloud-a',
        storage: {
          type: 's3',
          bucket,
          endpoint: a.s3Endpoint,
          region: a.s3Region,
          forcePathStyle: true,
          credentials: { accessKeyId: '${S3_KEY_ID}', secretAccessKey: '${S3_SECRET}' },
        },
        url: `${a.s3Endpoint}/${bucket}`,
        dns: { a: [ADDRESS['cloud-a']] },
      },
    ];
    const providers = (withBad: boolean) => [
      { type: 'powerdns', url: pdns.apiUrl, zone: pdns.zone, apiKey: '${PDNS_KEY}' },
      {
        type: 'rfc2136',
        server: `${knot.host}:${knot.port}`,
        zone: knot.zone,
        tsig: { name: tsig.name, algorithm: tsig.algorithm, secret: '${TSIG_SECRET}' },
      },
      { type: 'route53', hostedZoneId: R53_ZONE_ID, endpoint: route53.endpoint },
      {
        type: 'cloudflare',
        zone: ZONE,
        zoneId: cfZone.id,
        apiToken: '${CF_TOKEN}',
        baseUrl: cloudflare.baseUrl,
      },
      {
        type: 'dnsmadeeasy',
        domain: ZONE,
        apiKey: 'canary-dme-key',
        secretKey: '${DME_SECRET}',
        baseUrl: dme.baseUrl,
      },
      ...(withBad
        ? [
            { type: 'powerdns', url: pdns.apiUrl, zone: pdns.zone, apiKey: '${BAD_PDNS_KEY}' },
            {
              type: 'rfc2136',
              server: `${bind.host}:${bind.port}`,
              zone: bind.zone,
              tsig: { name: tsig.name, algorithm: tsig.algorithm, secret: '${BAD_TSIG_SECRET}' },
              timeout: '1s',
            },
          ]
        : []),
    ];
    const configFile = join(setup.root, 'canary.yaml');
    writeFileSync(
      configFile,
      stringify({
        site: { dir: setup.siteDir, hostname: NAME, errorDocument: '404.html' },
        origins,
        deploy: { attempts: 2 },
        health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
        failover: { policy: 'priority', failback: 'manual', holdDown: '1s' },
        dns: { name: NAME, ttl: 60, providers: providers(true) },
        watch: {
          listen: `127.0.0.1:${statusPort}`,
          stateDir,
          notify: {
            webhooks: [{ url: '${HOOK_URL}', secret: '${HOOK_SECRET}' }],
            emails: [
              {
                smtp: {
                  host: '127.0.0.1',
                  port: smtp.port,
                  starttls: false,
                  auth: { user: 'outlast', password: '${SMTP_PASSWORD}' },
                },
                from: 'outlast <outlast@canary.test>',
                to: ['ops@canary.test'],
              },
            ],
            retry: { attempts: 3, initialDelay: '50ms', maxDelay: '200ms' },
            timeout: '5s',
          },
        },
      }),
    );
    const config = ['--config', configFile];

    // 1. Storage: setup and deploy with the right credentials, then with wrong ones.
    const made = await outlast('setup-create', ['setup', ...config, '--create'], good);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    const deployed = await outlast('deploy-json', ['deploy', ...config, '--json'], good);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const report = JSON.parse(deployed.stdout) as { origins: Array<{ ok: boolean }> };
    assert.equal(report.origins.length, 4);
    assert.ok(report.origins.every((origin) => origin.ok));
    await outlast('status-json', ['status', ...config, '--json'], good);
    const refusedJson = await outlast(
      'deploy-wrong-json',
      ['deploy', ...config, '--json', '--verify'],
      wrong,
    );
    assert.equal(refusedJson.code, 1, refusedJson.stdout + refusedJson.stderr);
    const refused = await outlast('deploy-wrong-debug', ['deploy', ...config, '--debug', '--verify'], wrong);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout + refused.stderr, /cloud-a[\s\S]*FAILED|FAILED[\s\S]*cloud-a/);
    await outlast('status-wrong', ['status', ...config, '--debug'], wrong);
    // 2. DNS with every credential wrong: `check` names each provider's error.
    const checked = await outlast('check-wrong', ['check', ...config, '--debug'], wrong);
    assert.notEqual(checked.code, 0, checked.stdout + checked.stderr);

    // 3. The watcher, with the good credentials (and two providers with wrong ones).
    let output = '';
    watcher = spawn(process.execPath, [BIN, 'watch', ...config], {
      env: { ...process.env, ...good },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    watcher.stdout!.on('data', (chunk) => {
      output += chunk;
    });
    watcher.stderr!.on('data', (chunk) => {
      output += chunk;
    });
    watcherExited = new Promise((resolve) => watcher!.on('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${statusPort}`;
    await eventually('the watcher serves /status', async () => (await fetch(`${base}/status`)).ok, 60_000);
    const first = ADDRESS['local-a'];
    // On a time-out, say what each provider and origin is at (no secret: /status is scanned too).
    const explain = async <T>(wait: Promise<T>): Promise<T> =>
      wait.catch(async (error: Error) => {
        const now = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>;
        const detail = JSON.stringify({ providers: now.providers, origins: now.origins, active: now.active });
        throw new Error(`${error.message}\n${detail}\n${output.slice(-4000)}`);
      });
    await explain(
      eventually(
        'every good provider answers local-a',
        async () =>
          (await answers(pdns)) === first &&
          (await answers(knot)) === first &&
          route53.answer(R53_ZONE_ID, NAME, 'A').join() === first &&
          dme.served(dmeDomain.id, NAME, 'A').join() === first &&
          cfZone.records.some((record) => record.name === NAME && record.content === first),
        60_000,
      ),
    );
    const refusedPause = await outlast('pause-wrong-token', ['pause', ...config], wrong);
    assert.notEqual(refusedPause.code, 0);
    const paused = await outlast('pause', ['pause', ...config], good);
    assert.equal(paused.code, 0, paused.stdout + paused.stderr);
    const resumed = await outlast('resume', ['resume', ...config], good);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);

    // 4. A failover: local-a stops, every good provider moves to local-b, people are told.
    await servers[0]!.close();
    const second = ADDRESS['local-b'];
    await explain(
      eventually(
        'every good provider answers local-b',
        async () =>
          (await answers(pdns)) === second &&
          (await answers(knot)) === second &&
          route53.answer(R53_ZONE_ID, NAME, 'A').join() === second &&
          dme.served(dmeDomain.id, NAME, 'A').join() === second,
        60_000,
      ),
    );
    await eventually(
      'the webhook and the mailbox are told of the failover',
      async () =>
        hook!.requests.some((request) => request.body.includes('"failover"')) &&
        smtp!.mails.some((mail) => /failover/i.test(mail)),
    );
    let status = '';
    await eventually('/status shows both wrong providers failing', async () => {
      status = await (await fetch(`${base}/status`)).text();
      const parsed = JSON.parse(status) as { providers: Array<{ lastError?: string }> };
      return parsed.providers.filter((provider) => provider.lastError).length >= 2;
    });
    keep('status', status);
    keep('metrics', await (await fetch(`${base}/metrics`)).text());
    keep('dashboard', await (await fetch(`${base}/`)).text());
    const forbidden = await fetch(`${base}/actions/failback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CANARIES.watcherToken}-wrong` },
    });
    assert.equal(forbidden.status, 401);
    keep('action-refused', await forbidden.text());
    const failback = await outlast('failback-wrong-token', ['failback', ...config], wrong);
    assert.notEqual(failback.code, 0);
    await outlast('status-after-failover', ['status', ...config, '--json'], good);

    watcher.kill('SIGINT');
    const code = await watcherExited;
    watcher = undefined;
    keep('watch-output', output);
    assert.equal(code, 0, output);
    const stateFiles = readdirSync(stateDir).filter((name) => statSync(join(stateDir, name)).isFile());
    assert.ok(stateFiles.includes('state.json') && stateFiles.includes('events.jsonl'), stateFiles.join());
    for (const name of stateFiles) keep(`state-${name}`, readFileSync(join(stateDir, name), 'utf8'));
    // What people were sent is outlast's output too.
    // (Not the path: the receiver's own URL holds the URL secret, rightly.)
    for (const request of hook.requests) {
      keep('webhook-request', JSON.stringify({ headers: request.headers, body: request.body }));
    }
    for (const mail of smtp.mails) keep('mail', mail);

    // The canaries reached the services that take them, so their absence above means something.
    assert.ok(
      hook.requests.every((request) => request.verified === true),
      'every webhook signed with it',
    );
    assert.ok(route53.requests.length > 0 && cloudflare.requests.length > 0 && dme.requests.length > 0);
    assert.deepEqual(route53.violations, []);
    assert.match(output, /failover|local-b/);

    const hits = scanTexts(seen);
    assert.deepEqual(
      hits.map((hit) => `${hit.where}: ${hit.secret} (${hit.form})`),
      [],
      'no secret in any capture',
    );
  } finally {
    if (watcher) {
      watcher.kill('SIGKILL');
      await watcherExited;
    }
    await Promise.all(servers.map((server) => server.close().catch(() => undefined)));
    await Promise.all([route53.stop(), cloudflare.stop(), dme.stop(), hook?.close(), smtp?.close()]);
    setup.cleanup();
  }
});
