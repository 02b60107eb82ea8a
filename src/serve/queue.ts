/**
 * The waiting room in front of the one model: bounded, and fair between clients. Jobs wait per client
 * key (the request's `user`, else the peer address); the next job comes from the key at the head of the
 * rotation, which then goes to the back if it has more waiting. So one client that sends 50 requests
 * delays another's single request by at most one of its own, not by 50.
 *
 * Example (capacity 4): push a1, a2, a3, then b1 -> shift order a1, b1, a2, a3.
 */
export class FairQueue<J> {
  /** Client key -> its waiting jobs, oldest first. Map order is the rotation order. */
  private readonly waiting = new Map<string, J[]>();
  private count = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 0)) throw new RangeError(`queue capacity must be a non-negative integer, got ${capacity}`);
  }

  /** Jobs waiting (not counting the one being served). */
  get length(): number {
    return this.count;
  }

  /** Adds a job; false (and nothing added) when the queue is full. */
  push(key: string, job: J): boolean {
    if (this.count >= this.capacity) return false;
    const list = this.waiting.get(key);
    if (list) list.push(job);
    else this.waiting.set(key, [job]);
    this.count++;
    return true;
  }

  /** The next job, fairly; undefined when none waits. */
  shift(): J | undefined {
    const first = this.waiting.entries().next();
    if (first.done) return undefined;
    const [key, list] = first.value;
    const job = list.shift()!;
    this.waiting.delete(key);
    if (list.length > 0) this.waiting.set(key, list); // to the back of the rotation
    this.count--;
    return job;
  }

  /** Takes a waiting job out (its client left); false when it was not waiting. */
  remove(key: string, job: J): boolean {
    const list = this.waiting.get(key);
    const i = list ? list.indexOf(job) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.waiting.delete(key);
    this.count--;
    return true;
  }

  /** Empties the queue (shutdown), returning every job that was waiting. */
  drain(): J[] {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.count = 0;
    return all;
  }
}
