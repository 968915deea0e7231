/** A timer: `fire` runs when event time reaches `at`. */
export interface Timer {
  at: number;
  seq: number;
  fire(at: number): void;
}

/** A min-heap of timers ordered by time, then by scheduling order (so equal times fire first-scheduled first). */
export class TimerQueue {
  private readonly heap: Timer[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(at: number, fire: (at: number) => void): void {
    this.heap.push({ at, seq: this.seq++, fire });
    this.up(this.heap.length - 1);
  }

  /** Time of the earliest timer, or undefined. */
  peek(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Removes and returns the earliest timer. */
  pop(): Timer | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (this.heap.length > 0 && last) {
      this.heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.heap[i], this.heap[parent])) return;
      [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < this.heap.length && this.less(this.heap[l], this.heap[min])) min = l;
      if (r < this.heap.length && this.less(this.heap[r], this.heap[min])) min = r;
      if (min === i) return;
      [this.heap[i], this.heap[min]] = [this.heap[min], this.heap[i]];
      i = min;
    }
  }
}
