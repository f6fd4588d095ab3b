/**
 * How `outlast status` shows a watcher cluster (src/cli/cluster-status.ts, pure): the views read
 * from etcd → lines and JSON; etcd out of reach → one line. Also readCluster's deadline against a
 * port where nothing answers (loopback only).
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { type ClusterRead, clusterJson, clusterLines } from '../../src/cli/cluster-status.ts';
import { clusterSchema } from '../../src/cluster/options.ts';
import { quorumView, type WatcherView } from '../../src/cluster/quorum.ts';
import { type ClusterReading, clusterPrefix, readCluster } from '../../src/cluster/read.ts';
import { OutlastError } from '../../src/errors.ts';

const ORIGINS = ['o0', 'o1'];
const ENDPOINTS = ['http://127.0.0.1:2379', 'http://127.0.0.1:2380'];

function view(id: string, origins: WatcherView['origins']): WatcherView {
  return { id, at: '2026-01-01T00:00:00.000Z', origins };
}

function reading(views: WatcherView[], leader: string | undefined, quorum?: number): ClusterRead {
  const result: ClusterReading = {
    prefix: '/outlast/www.example.com/',
    leader,
    views,
    quorum: quorumView({ views, origins: ORIGINS, quorum, previous: {} }),
  };
  return { endpoints: ENDPOINTS, reading: result };
}

describe('clusterLines', () => {
  it('every watcher × every origin, the leader marked, the quorum row with its counts', () => {
    const lines = clusterLines(
      reading(
        [
          view('w1', { o0: { state: 'up', latencyMs: 3 }, o1: { state: 'up', latencyMs: 12 } }),
          view('w2', {
            o0: { state: 'up', latencyMs: 4 },
            o1: { state: 'down', error: 'connect ECONNREFUSED' },
          }),
          view('w3', { o0: { state: 'up', latencyMs: 5 }, o1: { state: 'down', error: 'timeout' } }),
        ],
        'w2',
      ),
    );
    assert.deepEqual(lines, [
      'cluster  etcd http://127.0.0.1:2379, http://127.0.0.1:2380, keys under /outlast/www.example.com/',
      '  leader: w2 (marked *)',
      '  quorum: 2; 3 of 3 watchers counted',
      '    watcher  o0                 o1',
      '    w1       UP 3 ms            UP 12 ms',
      '  * w2       UP 4 ms            DOWN',
      '      o1: connect ECONNREFUSED',
      '    w3       UP 5 ms            DOWN',
      '      o1: timeout',
      '    quorum   UP (3 up, 0 down)  DOWN (1 up, 2 down)',
    ]);
  });

  it('a watcher that sees every origin down is not counted, and says why; the quorum may be lost', () => {
    const lines = clusterLines(
      reading(
        [
          view('w1', { o0: { state: 'up' }, o1: { state: 'up' } }),
          view('w2', { o0: { state: 'down' }, o1: { state: 'down' } }),
        ],
        undefined,
        2,
      ),
    );
    assert.equal(lines[1], '  leader: none (an election is under way, or no watcher runs)');
    assert.equal(lines[2], "  QUORUM LOST: 1 of 2 watchers counted, 2 needed: no origin's health can change");
    const w2 = lines.findIndex((line) => /^ {2}[* ] w2 /.test(line));
    assert.match(lines[w2 + 1]!, /^ {6}not counted: it sees every origin down/);
    // With the quorum lost nothing is decided here: unknown, and said what that means.
    assert.match(lines.find((line) => line.includes('quorum  '))!, /UNKNOWN \(1 up, 0 down\)/);
    assert.match(
      lines.at(-1)!,
      /UNKNOWN: fewer than 2 watchers agree on it; the leader keeps its last verdict/,
    );
  });

  it('an origin missing from a view is a dash; no views at all is said', () => {
    const lines = clusterLines(reading([view('w1', { o0: { state: 'up' } })], 'w1'));
    assert.match(lines.find((line) => /^ {2}[* ] w1 /.test(line))!, /^ {2}\* w1 {7}UP +—$/);
    assert.deepEqual(clusterLines(reading([], undefined)).slice(2), [
      "  QUORUM LOST: 0 of 0 watchers counted, 1 needed: no origin's health can change",
      '  no watcher has published a view under /outlast/www.example.com/ (none runs, or they use another prefix)',
    ]);
  });

  it('etcd out of reach is one line, like an unreachable origin', () => {
    const error = new OutlastError('timeout', 'did not answer within 3 s', {
      source: `etcd ${ENDPOINTS[0]}`,
    });
    assert.deepEqual(clusterLines({ endpoints: ENDPOINTS, error }), [
      'cluster  UNREACHABLE: etcd http://127.0.0.1:2379: did not answer within 3 s',
    ]);
    assert.deepEqual(clusterJson({ endpoints: ENDPOINTS, error }), {
      ok: false,
      endpoints: ENDPOINTS,
      error: { code: 'timeout', message: 'etcd http://127.0.0.1:2379: did not answer within 3 s' },
    });
  });
});

describe('clusterJson', () => {
  it('every watcher with its view, the leader, what is counted, and the counts per origin', () => {
    const json = clusterJson(
      reading(
        [
          view('w1', { o0: { state: 'up', latencyMs: 3 }, o1: { state: 'up' } }),
          view('w2', { o0: { state: 'down' }, o1: { state: 'down' } }),
        ],
        'w1',
        1,
      ),
    );
    assert.deepEqual(json, {
      ok: true,
      endpoints: ENDPOINTS,
      prefix: '/outlast/www.example.com/',
      error: null,
      leader: 'w1',
      quorum: 1,
      quorumLost: false,
      watchers: [
        {
          id: 'w1',
          at: '2026-01-01T00:00:00.000Z',
          leader: true,
          counted: true,
          ignoredBecause: null,
          origins: { o0: { state: 'up', latencyMs: 3 }, o1: { state: 'up' } },
        },
        {
          id: 'w2',
          at: '2026-01-01T00:00:00.000Z',
          leader: false,
          counted: false,
          ignoredBecause: 'it sees every origin down (its own network, most likely)',
          origins: { o0: { state: 'down' }, o1: { state: 'down' } },
        },
      ],
      origins: { o0: { health: 'up', up: 1, down: 0 }, o1: { health: 'up', up: 1, down: 0 } },
    });
  });
});

describe('readCluster', () => {
  const config = clusterSchema.parse({ id: 'w1', etcd: { endpoints: ['http://127.0.0.1:1'] } });

  it("the prefix is the config's, or /outlast/<dns.name>/ as the watchers use", () => {
    assert.equal(clusterPrefix(config, 'www.example.com'), '/outlast/www.example.com/');
    const own = clusterSchema.parse({ etcd: { endpoints: ['http://127.0.0.1:1'], prefix: '/x/' } });
    assert.equal(clusterPrefix(own, 'www.example.com'), '/x/');
  });

  it('an etcd that never answers is an OutlastError naming the endpoint, within the deadline', async () => {
    // A listener that accepts and says nothing: the client can only wait for its deadline.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const quiet = clusterSchema.parse({ etcd: { endpoints: [`http://127.0.0.1:${port}`] } });
    try {
      await assert.rejects(readCluster(quiet, '/outlast/x/', ORIGINS, 500), (error: unknown) => {
        assert.ok(error instanceof OutlastError);
        assert.ok(['timeout', 'unavailable'].includes(error.code), error.code);
        assert.match(error.message, new RegExp(`etcd http://127\\.0\\.0\\.1:${port}`));
        return true;
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
