// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
/**
 * `watch.notify` in outlast.yaml (src/daemon/notify/options.ts): defaults, secrets from the
 * environment, and errors that name the path and never show a value that came from it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { isOutlastError } from '../../src/errors.ts';

const BASE = `site: { dir: public, hostname: www.example.com }
origins:
  - { id: a, storage: { type: memory, name: a } }
`;

const ENV = {
  HOOK_URL: 'https://hooks.slack.com/services/T0/B0/envSecretPath',
  HOOK_SECRET: 'whsec-from-env',
  SMTP_PASSWORD: 'smtp-password-from-env',
};

function notifyOf(section: string, env: NodeJS.ProcessEnv = ENV) {
  return parseConfig(`${BASE}watch:\n  notify:\n${section}`, 'outlast.yaml', { env }).config.watch.notify;
}

function problemsOf(section: string, env: NodeJS.ProcessEnv = ENV): string {
  try {
    notifyOf(section, env);
  } catch (error) {
    assert.ok(isOutlastError(error, 'invalid_config'), String(error));
    return error.message;
  }
  assert.fail('expected an invalid config');
}

describe('watch.notify', () => {
  it('is absent unless configured', () => {
    assert.equal(parseConfig(BASE, 'outlast.yaml', { env: {} }).config.watch.notify, undefined);
  });

  it('fills defaults and takes secrets from the environment', () => {
    const notify = notifyOf(`    webhooks:
      - { url: "\${HOOK_URL}", format: slack, secret: "\${HOOK_SECRET}" }
    emails:
      - smtp: { host: smtp.example.com, auth: { user: outlast, password: "\${SMTP_PASSWORD}" } }
        from: outlast@example.com
        to: [ops@example.com]
        events: [failover, origin-down]
`);
    assert.deepEqual(notify, {
      events: [
        'failover',
        'failback',
        'no-origin-up',
        'dns-write-failing',
        'certificate-expiring',
        'quorum-lost',
      ],
      webhooks: [{ url: ENV.HOOK_URL, format: 'slack', secret: ENV.HOOK_SECRET }],
      emails: [
        {
          smtp: {
            host: 'smtp.example.com',
            secure: false,
            starttls: true,
            auth: { user: 'outlast', password: ENV.SMTP_PASSWORD },
          },
          from: 'outlast@example.com',
          to: ['ops@example.com'],
          events: ['failover', 'origin-down'],
        },
      ],
      retry: { attempts: 8, initialDelay: 1000, maxDelay: 300_000 },
      timeout: 10_000,
    });
  });

  it('names the path of each mistake', () => {
    const message = problemsOf(`    webhooks:
      - { url: "\${HOOK_URL}", format: teams, events: [failover, fail-over] }
    emails:
      - { smtp: { host: smtp.example.com, secure: true, starttls: false }, from: a@example.com, to: [] }
    retry: { attempts: 0, initialDelay: soon }
`);
    for (const expected of [
      /watch\.notify\.webhooks\[0\]\.format: expected one of json, slack, got "teams"/,
      /watch\.notify\.webhooks\[0\]\.events\[1\]: expected one of failover, failback, .*quorum-lost, got "fail-over"/,
      /watch\.notify\.emails\[0\]\.to: expected at least 1 item, got 0/,
      /watch\.notify\.retry\.attempts: expected at least 1, got 0/,
      /watch\.notify\.retry\.initialDelay: expected a duration such as 500ms, 5s or 1m, got "soon"/,
    ]) {
      assert.match(message, expected);
    }
  });

  it('needs a target, and refuses starttls: false with secure: true', () => {
    assert.match(problemsOf('    events: [failover]\n'), /watch\.notify: expected at least one target/);
    assert.match(
      problemsOf(`    emails:
      - { smtp: { host: smtp.example.com, secure: true, starttls: false }, from: a@example.com, to: [b@example.com] }
`),
      /watch\.notify\.emails\[0\]\.smtp\.starttls: cannot be false with secure: true/,
    );
  });

  it('never shows a value from the environment in an error', () => {
    const message = problemsOf('    webhooks:\n      - { url: "${HOOK_URL}", typo: 1 }\n', {
      HOOK_URL: 'not a url: envSecretPath',
    });
    assert.match(
      message,
      /watch\.notify\.webhooks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL, got a value from \$\{HOOK_URL\} \(not shown\)/,
    );
    assert.match(message, /unknown key "typo"/);
    assert.ok(!message.includes('envSecretPath'), message);
  });
});
