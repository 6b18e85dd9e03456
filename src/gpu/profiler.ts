// Per-kernel GPU time from timestamp queries: each compute pass writes a timestamp at its
// beginning and end; `report()` sums the durations by kernel name. Used by bench/profile.ts
// to see where a training or decoding step spends its time (needs the `timestamp-query`
// feature; timings are the device's, not the CPU's).

const CAPACITY = 2048; // passes per query set (two timestamps each)

interface PendingResolve {
  buffer: GPUBuffer;
  labels: string[];
  querySet: GPUQuerySet;
  resolveBuffer: GPUBuffer;
}

export interface KernelTime {
  name: string;
  calls: number;
  totalMs: number;
}

export class GpuProfiler {
  private querySet: GPUQuerySet;
  private labels: string[] = [];
  private pending: PendingResolve[] = [];
  private readonly totals = new Map<string, KernelTime>();

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: CAPACITY * 2 });
  }

  /** True when the current query set is full and the encoder must be flushed first. */
  get full(): boolean {
    return this.labels.length >= CAPACITY;
  }

  /** The timestampWrites for the next pass, recorded under `name`. */
  nextPass(name: string): GPUComputePassTimestampWrites {
    const index = this.labels.length;
    this.labels.push(name);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 };
  }

  /** Appends the resolve of this encoder's queries; call before finishing the encoder. */
  resolve(encoder: GPUCommandEncoder): void {
    const count = this.labels.length;
    if (count === 0) return;
    const resolveBuffer = this.device.createBuffer({
      size: count * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readBuffer = this.device.createBuffer({ size: count * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, count * 2, resolveBuffer, 0);
    encoder.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, count * 16);
    this.pending.push({ buffer: readBuffer, labels: this.labels, querySet: this.querySet, resolveBuffer });
    this.labels = [];
    // A fresh query set per encoder: the resolved one may still be in flight.
    this.querySet = this.device.createQuerySet({ type: 'timestamp', count: CAPACITY * 2 });
  }

  /** Reads back every resolved encoder and adds its pass durations to the totals. */
  async collect(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const { buffer, labels, querySet, resolveBuffer } of pending) {
      await buffer.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(buffer.getMappedRange());
      labels.forEach((name, i) => {
        const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
        const entry = this.totals.get(name) ?? { name, calls: 0, totalMs: 0 };
        entry.calls++;
        entry.totalMs += ns / 1e6;
        this.totals.set(name, entry);
      });
      buffer.unmap();
      buffer.destroy();
      querySet.destroy();
      resolveBuffer.destroy();
    }
  }

  /** Kernel times so far, largest first. */
  async report(): Promise<KernelTime[]> {
    await this.collect();
    return [...this.totals.values()].sort((a, b) => b.totalMs - a.totalMs);
  }

  reset(): void {
    this.totals.clear();
  }
}
