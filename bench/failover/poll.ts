/**
 * Asks PowerDNS like a resolver would (real DNS queries over UDP, `query` from
 * test/servers/dns.ts), every `everyMs`, for several names at once, and keeps the timeline of
 * answer changes per name. A failover time is "first reply that answers the new address" − t0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../../src/errors.ts';
import { type DnsServer, query } from '../../test/servers/dns.ts';

/** The A records of `name`, sorted and joined, or the rcode / error when there are none. */
export async function answerOf(server: DnsServer, name: string): Promise<string> {
  try {
    const result = await query(server, name, 'A');
    if (result.rcode !== 'NOERROR') return result.rcode;
    const addresses = result.answers
      .filter((answer) => answer.type === 'A')
      .map((answer) => answer.data)
      .sort();
    return addresses.length > 0 ? addresses.join(',') : '(no A)';
  } catch (error) {
    return `error: ${messageOf(error)}`;
  }
}

export interface AnswerChange {
  name: string;
  answer: string;
  /** ms since t0, taken when the reply arrived. */
  atMs: number;
}

export class AnswerTimeline {
  readonly changes: AnswerChange[] = [];
  readonly current = new Map<string, string>();
  queries = 0;

  /** Records a reply; returns true when it is a change (the first reply of a name counts too). */
  see(name: string, answer: string, atMs: number): boolean {
    if (this.current.get(name) === answer) return false;
    this.current.set(name, answer);
    this.changes.push({ name, answer, atMs });
    return true;
  }

  /** When `name` first answered `answer` (ms since t0), or undefined. */
  firstAt(name: string, answer: string): number | undefined {
    return this.changes.find((change) => change.name === name && change.answer === answer)?.atMs;
  }

  /** Changes of `name`'s answer after its first reply. */
  changeCount(name: string): number {
    return Math.max(0, this.changes.filter((change) => change.name === name).length - 1);
  }
}

/**
 * Polls `names` (in parallel) every `everyMs` from now until `until(timeline, elapsedMs)` is true.
 * `t0` is the performance.now() the times are measured from.
 */
export async function pollAnswers(
  server: DnsServer,
  names: string[],
  options: { everyMs: number; t0: number; until: (timeline: AnswerTimeline, elapsedMs: number) => boolean },
): Promise<AnswerTimeline> {
  const timeline = new AnswerTimeline();
  let next = performance.now();
  for (;;) {
    await Promise.all(
      names.map(async (name) => {
        const answer = await answerOf(server, name);
        timeline.see(name, answer, performance.now() - options.t0);
      }),
    );
    timeline.queries += names.length;
    const now = performance.now();
    if (options.until(timeline, now - options.t0)) return timeline;
    next += options.everyMs;
    if (next < now) next = now;
    await sleep(next - now);
  }
}
