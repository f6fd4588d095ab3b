/**
 * A map of etcd keys kept from two sources that may arrive in any order (pure): the watch's events
 * and full reads. A watch can stall silently (seen: a watcher whose watch delivered nothing after
 * etcd regained its quorum, so the cluster's leader decided on views a minute old), so the views
 * are also read whole now and then. Each entry remembers the revision that wrote it, so an older
 * read never undoes a newer event, nor a newer read an older one's absence.
 */
export class RevisionedMap<T> {
  /** `value` undefined: deleted at `revision` (kept until a read at or past it). */
  private readonly entries = new Map<string, { value: T | undefined; revision: bigint }>();

  /** A put seen by the watch; true when what `values()` returns changed. */
  put(key: string, value: T, revision: bigint): boolean {
    const entry = this.entries.get(key);
    if (entry && entry.revision >= revision) return false;
    this.entries.set(key, { value, revision });
    return true;
  }

  /** A delete seen by the watch (`revision`: the delete's); true when `values()` changed. */
  remove(key: string, revision: bigint): boolean {
    const entry = this.entries.get(key);
    if (entry && entry.revision >= revision) return false;
    this.entries.set(key, { value: undefined, revision });
    return entry?.value !== undefined;
  }

  /**
   * Every key under the prefix as read at `revision`. A key the read lacks was deleted by then,
   * unless an event newer than the read put it. True when `values()` changed.
   */
  replace(read: Iterable<{ key: string; value: T; revision: bigint }>, revision: bigint): boolean {
    let changed = false;
    const seen = new Set<string>();
    for (const item of read) {
      seen.add(item.key);
      const entry = this.entries.get(item.key);
      if (entry && entry.revision >= item.revision) continue;
      this.entries.set(item.key, { value: item.value, revision: item.revision });
      changed = true;
    }
    for (const [key, entry] of this.entries) {
      if (seen.has(key) || entry.revision > revision) continue;
      this.entries.delete(key);
      if (entry.value !== undefined) changed = true;
    }
    return changed;
  }

  values(): T[] {
    const out: T[] = [];
    for (const entry of this.entries.values()) if (entry.value !== undefined) out.push(entry.value);
    return out;
  }
}
