/**
 * The watchers' views as this watcher knows them (etcd.ts feeds it): from the watch on
 * `watchers/` and from whole reads of it, merged by revision (revisioned.ts). A view that is not
 * JSON counts as no view.
 */
import type { IKeyValue } from 'etcd3';
import type { Logger } from '../util/log.ts';
import type { WatcherView } from './quorum.ts';
import { RevisionedMap } from './revisioned.ts';

export class ViewTable {
  private readonly map = new RevisionedMap<WatcherView>();

  constructor(private readonly log: Logger) {}

  /** A put seen by the watch; true when the views changed. */
  put(kv: IKeyValue): boolean {
    const view = this.parse(kv);
    const key = kv.key.toString();
    const revision = BigInt(kv.mod_revision);
    return view ? this.map.put(key, view, revision) : this.map.remove(key, revision);
  }

  /** A delete seen by the watch; true when the views changed. */
  remove(kv: IKeyValue): boolean {
    return this.map.remove(kv.key.toString(), BigInt(kv.mod_revision));
  }

  /** Every view, read whole at `revision`; true when the views changed. */
  read(kvs: IKeyValue[], revision: bigint): boolean {
    const read = kvs.flatMap((kv) => {
      const value = this.parse(kv);
      return value ? [{ key: kv.key.toString(), value, revision: BigInt(kv.mod_revision) }] : [];
    });
    return this.map.replace(read, revision);
  }

  /** The views, by watcher id. */
  list(): WatcherView[] {
    return this.map.values().sort((a, b) => a.id.localeCompare(b.id));
  }

  private parse(kv: IKeyValue): WatcherView | undefined {
    try {
      return JSON.parse(kv.value.toString()) as WatcherView;
    } catch {
      this.log.warn({ key: kv.key.toString() }, 'a watcher view in etcd is not JSON: ignored');
      return undefined;
    }
  }
}
