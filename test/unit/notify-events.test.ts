/**
 * The pure part of notifications (src/daemon/notify/events.ts, retry.ts): which timeline events
 * are which notification, the stable id, the texts, the signature (against an HMAC computed here
 * with node:crypto, and a fixed known value), labels that show a webhook by its host only, and the
 * retry delays.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  emailLabel,
  emailSubject,
  emailText,
  episodeOf,
  eventId,
  jsonBody,
  type NotifyEvent,
  notifyKindOf,
  signature,
  slackBody,
  slackText,
  type TimelineLike,
  toNotifyEvent,
  uniqueLabels,
  urlSecrets,
  webhookLabel,
} from '../../src/daemon/notify/events.ts';
import { MAX_RETRY_AFTER_MS, retryDelay } from '../../src/daemon/notify/retry.ts';

const AT = '2026-05-04T10:00:00.000Z';

function timeline(kind: string, data?: Record<string, unknown>, message = `${kind} happened`): TimelineLike {
  return { at: AT, kind, message, ...(data ? { data } : {}) };
}

describe('notifyKindOf', () => {
  const table: [string, TimelineLike, string | undefined][] = [
    ['a failover', timeline('failover', { from: ['a'], to: ['b'] }), 'failover'],
    ['a failback that moved DNS', timeline('failback', { from: ['b'], to: ['a'] }), 'failback'],
    ['an operator failback that changed nothing', timeline('failback'), undefined],
    ['no origin up', timeline('no-healthy-origin', { active: ['a'] }), 'no-origin-up'],
    ['a DNS write that failed', timeline('dns-error', { provider: 'memory x' }), 'dns-write-failing'],
    ['a certificate warning', timeline('certificate', { originId: 'a' }), 'certificate-expiring'],
    ['the cluster lost its quorum', timeline('quorum-lost'), 'quorum-lost'],
    ['an origin going down', timeline('health', { originId: 'a', from: 'up', to: 'down' }), 'origin-down'],
    ['an origin down at the first probe', timeline('health', { from: 'unknown', to: 'down' }), 'origin-down'],
    ['an origin coming back', timeline('health', { originId: 'a', from: 'down', to: 'up' }), 'origin-up'],
    [
      'an origin up at the first probe (no news)',
      timeline('health', { from: 'unknown', to: 'up' }),
      undefined,
    ],
    ['an origin becoming unknown', timeline('health', { from: 'up', to: 'unknown' }), undefined],
    ['the first routing', timeline('route', { from: [], to: ['a'] }), undefined],
    ['a successful DNS write', timeline('dns', { provider: 'memory x' }), undefined],
    ['a forced route', timeline('forced'), undefined],
    ['a held-down choice', timeline('held-down'), undefined],
    ['a degraded choice', timeline('degraded'), undefined],
    ['a new release', timeline('release'), undefined],
    ['a notification failure (never notified: no loop)', timeline('notify-error'), undefined],
    ['the watcher starting', timeline('started'), undefined],
  ];
  for (const [what, event, kind] of table) {
    it(`${what} → ${kind ?? 'none'}`, () => assert.equal(notifyKindOf(event), kind));
  }
});

describe('episodeOf', () => {
  it('opens an episode per DNS provider on dns-error and closes it on its next write', () => {
    assert.deepEqual(episodeOf(timeline('dns-error', { provider: 'p1' })), { key: 'dns:p1', open: true });
    assert.deepEqual(episodeOf(timeline('dns', { provider: 'p1' })), { key: 'dns:p1', open: false });
    assert.equal(episodeOf(timeline('failover')), undefined);
  });
});

describe('eventId', () => {
  it('is stable for the same event and differs for another one', () => {
    const event = timeline('failover', { from: ['a'], to: ['b'] });
    assert.equal(eventId(event, 'www.example.com'), eventId({ ...event }, 'www.example.com'));
    assert.match(eventId(event, 'www.example.com'), /^evt_[0-9a-f]{32}$/);
    assert.notEqual(
      eventId(event, 'www.example.com'),
      eventId({ ...event, at: AT.replace('10:', '11:') }, 'www.example.com'),
    );
    assert.notEqual(eventId(event, 'www.example.com'), eventId(event, 'www.other.com'));
  });
});

const EVENT: NotifyEvent = toNotifyEvent(
  timeline('failover', { from: ['a'], to: ['b'] }, 'failing over from a (down) to b: <b> & co'),
  { site: 'www.example.com', name: 'www.example.com' },
)!;

describe('texts', () => {
  it('the JSON body is the event: id, at, kind, message, data, site, name', () => {
    assert.deepEqual(JSON.parse(jsonBody(EVENT)), {
      id: EVENT.id,
      at: AT,
      kind: 'failover',
      message: 'failing over from a (down) to b: <b> & co',
      data: { from: ['a'], to: ['b'] },
      site: 'www.example.com',
      name: 'www.example.com',
    });
  });

  it('the Slack text says what and where, with &, < and > escaped', () => {
    assert.equal(
      slackText(EVENT),
      ':rotating_light: *failover* on `www.example.com`\nfailing over from a (down) to b: &lt;b&gt; &amp; co',
    );
    assert.deepEqual(JSON.parse(slackBody(EVENT)), { text: slackText(EVENT) });
  });

  it('the e-mail subject is one line, at most 140 characters', () => {
    assert.equal(
      emailSubject(EVENT),
      '[outlast] failover on www.example.com: failing over from a (down) to b: <b> & co',
    );
    const long = emailSubject({ ...EVENT, message: `x\n${'y'.repeat(300)}` });
    assert.equal(long.length, 140);
    assert.ok(!long.includes('\n'));
    assert.ok(long.endsWith('…'));
  });

  it('the e-mail body has the message, the fields and the details', () => {
    const text = emailText(EVENT);
    assert.ok(text.startsWith('failing over from a (down) to b: <b> & co\n'));
    for (const line of [
      'event:  failover',
      'name:   www.example.com',
      `at:     ${AT}`,
      `id:     ${EVENT.id}`,
    ]) {
      assert.ok(text.includes(`\n${line}\n`), line);
    }
    assert.ok(text.includes('\n  from: ["a"]\n  to: ["b"]\n'));
  });
});

describe('signature', () => {
  it('is sha256= and the hex HMAC-SHA256 of "<timestamp>.<body>" with the secret', () => {
    const body = jsonBody(EVENT);
    const expected = createHmac('sha256', 'the-secret').update(`1777888000.${body}`).digest('hex');
    assert.equal(signature('the-secret', '1777888000', body), `sha256=${expected}`);
  });

  it('matches a value computed elsewhere (so the README snippet and the code agree)', () => {
    // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
    assert.equal(
      signature('key', '1700000000', '{"a":1}'),
      'sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03',
    );
    assert.notEqual(signature('key', '1700000001', '{"a":1}'), signature('key', '1700000000', '{"a":1}'));
    assert.notEqual(signature('other', '1700000000', '{"a":1}'), signature('key', '1700000000', '{"a":1}'));
  });
});

describe("the README's verification snippet", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block =
    /```js\n(import \{ createHmac, timingSafeEqual \} from 'node:crypto';\n[\s\S]*?function verifyOutlast[\s\S]*?)```/.exec(
      readme,
    );

  it('accepts what the notifier signs, and refuses a changed body, another secret or an old timestamp', () => {
    assert.ok(block, 'README.md has the snippet');
    const code = block[1]!.replace(/^import .*\n/, '');
    const verify = new Function('createHmac', 'timingSafeEqual', `${code}\nreturn verifyOutlast;`)(
      createHmac,
      timingSafeEqual,
    ) as (secret: string, headers: Record<string, string>, body: string) => boolean;
    const body = jsonBody(EVENT);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = {
      'x-outlast-timestamp': timestamp,
      'x-outlast-signature': signature('s3cret', timestamp, body),
    };
    assert.equal(verify('s3cret', headers, body), true);
    assert.equal(verify('s3cret', headers, `${body} `), false);
    assert.equal(verify('other', headers, body), false);
    const old = String(Number(timestamp) - 3600);
    assert.equal(
      verify(
        's3cret',
        { 'x-outlast-timestamp': old, 'x-outlast-signature': signature('s3cret', old, body) },
        body,
      ),
      false,
    );
  });
});

describe('labels', () => {
  it('shows a webhook by its host only, never its path or query', () => {
    const url = 'https://hooks.slack.com/services/T000/B000/XXXXSECRET?token=abc';
    assert.equal(webhookLabel(url), 'webhook hooks.slack.com');
    assert.equal(webhookLabel('http://127.0.0.1:8080/hook'), 'webhook 127.0.0.1:8080');
    assert.equal(emailLabel('smtp.example.com'), 'email smtp.example.com');
  });

  it('numbers targets that would look the same', () => {
    assert.deepEqual(uniqueLabels(['webhook a', 'webhook a', 'email b', 'webhook a']), [
      'webhook a',
      'webhook a #2',
      'email b',
      'webhook a #3',
    ]);
  });

  it('knows which parts of a URL are secret', () => {
    const secrets = urlSecrets('https://hooks.slack.com/services/T000/B000/XXXXSECRET');
    assert.ok(secrets.includes('/services/T000/B000/XXXXSECRET'));
    assert.ok(secrets.includes('https://hooks.slack.com/services/T000/B000/XXXXSECRET'));
  });
});

describe('retryDelay', () => {
  const retry = { initialDelay: 1000, maxDelay: 60_000 };
  const table: [number, number, number | undefined, number][] = [
    // attempts, random, Retry-After, expected
    [1, 0, undefined, 500],
    [1, 0.999_999, undefined, 1000],
    [2, 0, undefined, 1000],
    [3, 0.5, undefined, 3000],
    [10, 0, undefined, 30_000],
    [30, 0.999_999, undefined, 60_000],
    [1, 0, 5000, 5000],
    [4, 0.999_999, 2000, 8000],
    [1, 0, 10 * MAX_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS],
  ];
  for (const [attempts, random, retryAfter, expected] of table) {
    it(`after ${attempts} failure(s), random ${random}, Retry-After ${retryAfter ?? 'none'} → ${expected} ms`, () => {
      assert.equal(retryDelay(retry, attempts, retryAfter, random), expected);
    });
  }
});
