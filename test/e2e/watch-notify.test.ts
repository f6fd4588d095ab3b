// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
/**
 * People are told (issue 13, item 7): a real watcher with two fs origins served over HTTP and a
 * memory DNS provider, `watch.notify` with a signed JSON webhook, a webhook that refuses (400),
 * and e-mail through a local SMTP server (smtp-server, with a login). When origin a stops, the
 * webhook and the mailbox each get exactly one `failover`; when a is back, exactly one
 * `failback`; the webhook receiver verifies every signature; the refusing webhook becomes a
 * `notify-error` that names its host only. The webhook URLs, the signing secret and the SMTP
 * password (all from `${VAR}`) appear nowhere: not in the logs, the timeline, GET /status, the
 * dashboard, the event log or the outbox. No timing is asserted: every wait polls a condition.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { startStatusServer } from '../../src/daemon/http.ts';
import { Watcher, type WatchStatus } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { recordingLogger, startWebhookReceiver } from '../helpers/notify.ts';
import { setupFsDeploy } from '../helpers/site.ts';

const NAME = 'www.notify.test';
const HOOK_SECRET = 'whsec-e2e-4f1c9a';
const SMTP_PASSWORD = 'smtp-pass-e2e-77d2';
const URL_SECRET = 'T0E2E/B0E2E/urlSecret9';

interface Mail {
  from: string | undefined;
  to: string[];
  headers: Record<string, string>;
  raw: string;
}

/** A local SMTP server that takes every message after a login with SMTP_PASSWORD. */
async function startSmtpSink(): Promise<{
  port: number;
  mails: Mail[];
  logins: number;
  close(): Promise<void>;
}> {
  const sink = { port: 0, mails: [] as Mail[], logins: 0, close: async (): Promise<void> => undefined };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'outlast' && auth.password === SMTP_PASSWORD) {
        sink.logins += 1;
        callback(null, { user: 'outlast' });
      } else callback(new Error('invalid login'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        sink.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          headers: headersOf(raw),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

/** A message's headers, unfolded, by lower-case name. */
function headersOf(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

test('failover and failback are told once each, signed, by webhook and e-mail, with no secret anywhere', {
  timeout: 120_000,
}, async () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hi</h1>', '404.html': 'nope' } });
  const servers: RunningServer[] = [];
  const hook = await startWebhookReceiver(HOOK_SECRET);
  hook.answer = (index) => (hook.requests[index]!.path.startsWith('/reject/') ? 400 : 200);
  const smtp = await startSmtpSink();
  let watcher: Watcher | undefined;
  let http: { url: string; close(): Promise<void> } | undefined;
  try {
    const deployed = await runDeploy({ config: setup.config });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    servers.push(await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0 }));
    servers.push(await startServer({ dir: setup.origins[1]!, host: '127.0.0.3', port: 0 }));
    const stateDir = join(setup.root, 'state');
    const env = {
      NOTIFY_URL: `${hook.url}/hooks/${URL_SECRET}`,
      REJECT_URL: `${hook.url}/reject/${URL_SECRET}`,
      NOTIFY_SECRET: HOOK_SECRET,
      SMTP_PASSWORD,
    };
    const text = stringify({
      site: { dir: setup.siteDir, hostname: NAME },
      origins: ['a', 'b'].map((id, index) => ({
        id,
        storage: { type: 'fs', path: setup.origins[index] },
        url: servers[index]!.url,
        dns: { a: [`192.0.2.${index + 1}`] },
      })),
      health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
      failover: { policy: 'priority', failback: 'auto', holdDown: '1s' },
      dns: { name: NAME, ttl: 60, providers: [{ type: 'memory', name: 'watch-notify-test' }] },
      watch: {
        listen: '127.0.0.1:0',
        stateDir,
        notify: {
          webhooks: [
            { url: '${NOTIFY_URL}', secret: '${NOTIFY_SECRET}' },
            { url: '${REJECT_URL}', format: 'slack', events: ['failover'] },
          ],
          emails: [
            {
              smtp: {
                host: '127.0.0.1',
                port: smtp.port,
                starttls: false,
                auth: { user: 'outlast', password: '${SMTP_PASSWORD}' },
              },
              from: 'outlast <outlast@notify.test>',
              to: ['ops@notify.test'],
            },
          ],
          retry: { attempts: 4, initialDelay: '50ms', maxDelay: '200ms' },
          timeout: '5s',
        },
      },
    });
    const { config } = parseConfig(text, join(setup.root, 'outlast.yaml'), { env });
    const logger = recordingLogger();
    watcher = new Watcher({ config, logger });
    await watcher.start();
    http = await startStatusServer(watcher, { host: '127.0.0.1', port: 0, token: 'test-token', logger });
    const status = async () => (await (await fetch(`${http!.url}/status`)).json()) as WatchStatus;
    const good = () => hook.requests.filter((request) => request.path.startsWith('/hooks/'));
    const kinds = () => good().map((request) => (JSON.parse(request.body) as { kind: string }).kind);
    const mailKinds = () => smtp.mails.map((mail) => mail.headers['x-outlast-event']);

    await eventually('DNS is routed to a', async () => (await status()).active.join() === 'a');

    await servers[0]!.close();
    await eventually(
      'the webhook and the mailbox are told of the failover',
      async () => kinds().includes('failover') && mailKinds().includes('failover'),
    );
    await eventually('the refusing webhook is a notify-error', async () =>
      (await status()).events.some((event) => event.kind === 'notify-error'),
    );

    const port = Number(new URL(servers[0]!.url).port);
    servers[0] = await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port });
    await eventually(
      'the webhook and the mailbox are told of the failback',
      async () => kinds().includes('failback') && mailKinds().includes('failback'),
    );
    await eventually('/status shows both deliveries to each target', async () => {
      const notify = (await status()).notify ?? [];
      return notify[0]?.sent === 2 && notify[2]?.sent === 2;
    });

    const shown = await status();
    const page = await (await fetch(`${http.url}/`)).text();
    await http.close();
    http = undefined;
    await watcher.stop();
    const events = watcher.status().events;
    watcher = undefined;

    // Exactly once each, in order, every request signed, the same id for the webhook and the e-mail.
    assert.deepEqual(kinds(), ['failover', 'failback']);
    assert.deepEqual(mailKinds(), ['failover', 'failback']);
    assert.ok(
      good().every((request) => request.verified === true),
      'the receiver verified every signature',
    );
    const ids = good().map((request) => request.headers['x-outlast-event-id']);
    assert.equal(new Set(ids).size, 2);
    assert.deepEqual(
      good().map((request) => (JSON.parse(request.body) as { id: string }).id),
      ids,
    );
    assert.deepEqual(
      smtp.mails.map((mail) => mail.headers['x-outlast-event-id']),
      ids,
      'one event, one id, for every target',
    );
    const failoverBody = JSON.parse(good()[0]!.body) as Record<string, unknown>;
    assert.equal(failoverBody.name, NAME);
    assert.equal(failoverBody.site, NAME);
    assert.deepEqual((failoverBody.data as { to: string[] }).to, ['b']);
    for (const mail of smtp.mails) {
      assert.deepEqual(mail.to, ['ops@notify.test']);
      assert.equal(mail.from, 'outlast@notify.test');
      assert.match(mail.headers['message-id'] ?? '', /^<evt_[0-9a-f]{32}\.[0-9a-f]{16}@outlast\.invalid>$/);
    }
    assert.ok(smtp.logins >= 2, 'outlast logged in to the SMTP server');

    // The refusing webhook: tried once (not retried), reported by its host only.
    const rejected = hook.requests.filter((request) => request.path.startsWith('/reject/'));
    assert.equal(rejected.length, 1, 'a 400 is not retried (and failback is not among its events)');
    assert.ok(JSON.parse(rejected[0]!.body).text.startsWith(':rotating_light: *failover*'));
    const errors = events.filter((event) => event.kind === 'notify-error');
    assert.equal(errors.length, 1);
    const host = new URL(hook.url).host;
    assert.equal(
      errors[0]!.message,
      `webhook ${host} #2: failover notification refused: HTTP 400 (no (400))`,
    );
    assert.deepEqual(
      shown.notify?.map(({ target, sent, failed, pending }) => ({ target, sent, failed, pending })),
      [
        { target: `webhook ${host}`, sent: 2, failed: 0, pending: 0 },
        { target: `webhook ${host} #2`, sent: 0, failed: 1, pending: 0 },
        { target: 'email 127.0.0.1', sent: 2, failed: 0, pending: 0 },
      ],
    );
    const outbox = JSON.parse(readFileSync(join(stateDir, 'notify-outbox.json'), 'utf8')) as {
      deliveries: unknown[];
    };
    assert.deepEqual(outbox.deliveries, [], 'nothing left pending');

    // No secret anywhere people or receivers can read.
    const places: [string, string][] = [
      ['the log', logger.lines.join('\n')],
      ['GET /status', JSON.stringify(shown)],
      ['the timeline', JSON.stringify(events)],
      ['the dashboard', page],
      ['the event log', readFileSync(join(stateDir, 'events.jsonl'), 'utf8')],
      ['the state', readFileSync(join(stateDir, 'state.json'), 'utf8')],
      ['the outbox', readFileSync(join(stateDir, 'notify-outbox.json'), 'utf8')],
      ['the webhook bodies', hook.requests.map((request) => request.body).join('\n')],
      ['the e-mails', smtp.mails.map((mail) => mail.raw).join('\n')],
    ];
    for (const [where, content] of places) {
      for (const secret of [HOOK_SECRET, SMTP_PASSWORD, URL_SECRET, 'urlSecret9']) {
        assert.ok(!content.includes(secret), `${where} does not contain ${secret.slice(0, 6)}…`);
      }
    }
  } finally {
    await http?.close();
    await watcher?.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    await hook.close();
    await smtp.close();
    setup.cleanup();
  }
});
