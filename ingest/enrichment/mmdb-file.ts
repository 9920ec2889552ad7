import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { isIP } from 'node:net';

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'); // \xAB\xCD\xEFMaxMind.com
const DATA_SECTION_SEPARATOR = 16;

export interface MmdbMetadata {
  ipVersion: number;
  nodeCount: number;
  recordSize: number;
  databaseType: string;
}

export interface MmdbFileOptions {
  /** Bytes of search tree kept in memory (blocks read from the file as lookups need them). */
  treeCacheBytes?: number;
  /**
   * Read the whole tree once at open (default true), so the OS page cache holds it and a
   * lookup's block reads do not wait for the disk.
   */
  warmPageCache?: boolean;
}

/**
 * A MaxMind DB (.mmdb) reader that keeps the search tree on disk. The tree is most of such a
 * file (about 100 of the 134 MB of the default DB-IP City pair) but a lookup touches only ~20
 * of its nodes, so tree blocks are read with `pread` when a lookup needs them and kept in a
 * bounded cache (the root's blocks, hit by every lookup, stay hot; a miss is one read served
 * by the OS page cache). The data section, where records live, is small, shared by all ranges
 * and read in full at open. Node has no mmap; this is the same trade it makes: resident memory
 * is what lookups use, not the file size.
 *
 * A lookup never waits for the disk on the event loop: it walks the tree synchronously while
 * the blocks it needs are cached, and a block that is not is read on libuv's thread pool
 * (`fs.read`), the walk resuming when it arrives; concurrent lookups needing the same block
 * share one read. The whole tree is read once at open (start-up, before serving) so that such
 * reads normally come from the OS page cache; when the kernel has reclaimed it, only the
 * lookups needing the evicted blocks wait, not the process.
 * The file must not be replaced in place while open (write a new file and restart).
 */
export class MmdbFile {
  readonly metadata: MmdbMetadata;
  private readonly fd: number;
  private readonly data: Buffer;
  private readonly nodeByteSize: number;
  private readonly blockSize: number;
  private readonly maxBlocks: number;
  private readonly blocks = new Map<number, Buffer>();
  private readonly pendingBlocks = new Map<number, Promise<void>>();
  private readonly records = new Map<number, unknown>();
  private readonly ipv4Start: number;

  private constructor(fd: number, opts: MmdbFileOptions) {
    this.fd = fd;
    const size = fstatSync(fd).size;
    const tailLength = Math.min(size, 128 * 1024);
    const tail = this.read(size - tailLength, tailLength);
    const marker = tail.lastIndexOf(METADATA_MARKER);
    if (marker < 0) throw new Error('not a MaxMind DB file (no metadata marker)');
    const meta = new Decoder(tail.subarray(marker + METADATA_MARKER.length)).decode(0)
      .value as Record<string, unknown>;
    this.metadata = {
      ipVersion: Number(meta.ip_version),
      nodeCount: Number(meta.node_count),
      recordSize: Number(meta.record_size),
      databaseType: typeof meta.database_type === 'string' ? meta.database_type : '',
    };
    const { nodeCount, recordSize } = this.metadata;
    if (recordSize !== 24 && recordSize !== 28 && recordSize !== 32) {
      throw new Error(`unsupported record size ${recordSize}`);
    }
    this.nodeByteSize = recordSize / 4;
    // Whole nodes per block, so a node never straddles two blocks.
    this.blockSize = this.nodeByteSize * Math.floor(4096 / this.nodeByteSize);
    this.maxBlocks = Math.max(
      16,
      Math.floor((opts.treeCacheBytes ?? 16 * 1024 * 1024) / this.blockSize),
    );
    const treeSize = nodeCount * this.nodeByteSize;
    const dataStart = treeSize + DATA_SECTION_SEPARATOR;
    const metadataStart = size - tailLength + marker;
    this.data = this.read(dataStart, metadataStart - dataStart);
    if (opts.warmPageCache ?? true) {
      const chunk = Buffer.allocUnsafeSlow(1 << 20);
      for (let at = 0; at < treeSize; at += chunk.length) {
        if (readSync(fd, chunk, 0, Math.min(chunk.length, treeSize - at), at) === 0) break;
      }
    }
    // IPv4 addresses in an IPv6 tree live under ::/96 (96 zero bits, then the address).
    let node = 0;
    if (this.metadata.ipVersion === 6) {
      for (let i = 0; i < 96 && node < nodeCount; i++) node = this.recordAtOpen(node, 0);
    }
    this.ipv4Start = node;
  }

  static open(path: string, opts: MmdbFileOptions = {}): MmdbFile {
    const fd = openSync(path, 'r');
    try {
      return new MmdbFile(fd, opts);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * The record for an address, or null (not covered, or an address of the other family).
   * Resolves without touching the disk when the blocks on the address's path are cached.
   */
  async get(ip: string): Promise<unknown> {
    const bytes = ipBytes(ip);
    if (bytes === null) return null;
    if (bytes.length === 16 && this.metadata.ipVersion === 4) return null;
    const { nodeCount } = this.metadata;
    let node = bytes.length === 4 ? this.ipv4Start : 0;
    const bits = bytes.length * 8;
    for (let i = 0; i < bits && node < nodeCount; i++) {
      const bit = (bytes[i >> 3]! >> (7 - (i & 7))) & 1;
      const at = node * this.nodeByteSize;
      const blockNo = Math.floor(at / this.blockSize);
      let block = this.blocks.get(blockNo);
      // Another lookup's read may evict the block between its arrival and this walk resuming.
      while (block === undefined) {
        await this.loadBlock(blockNo);
        block = this.blocks.get(blockNo);
      }
      node = this.recordIn(block, at - blockNo * this.blockSize, bit);
    }
    if (node <= nodeCount) return null; // nodeCount itself means "no data"
    return this.recordAt(node - nodeCount - DATA_SECTION_SEPARATOR);
  }

  /** Reads a tree block on the thread pool into the cache (one read per block at a time). */
  private loadBlock(blockNo: number): Promise<void> {
    let pending = this.pendingBlocks.get(blockNo);
    if (pending === undefined) {
      pending = new Promise<void>((resolve, reject) => {
        const buf = Buffer.allocUnsafeSlow(this.blockSize);
        read(this.fd, buf, 0, this.blockSize, blockNo * this.blockSize, (err, n) => {
          this.pendingBlocks.delete(blockNo);
          if (err) return reject(err);
          // FIFO eviction: cheaper per hit than LRU bookkeeping; a hot block that is evicted
          // costs one more read.
          if (this.blocks.size >= this.maxBlocks) {
            this.blocks.delete(this.blocks.keys().next().value!);
          }
          this.blocks.set(blockNo, n === this.blockSize ? buf : buf.subarray(0, n));
          resolve();
        });
      });
      this.pendingBlocks.set(blockNo, pending);
    }
    return pending;
  }

  /** Decodes the record at a data-section offset (records are shared, so results are cached). */
  private recordAt(offset: number): unknown {
    let rec = this.records.get(offset);
    if (rec === undefined) {
      rec = new Decoder(this.data).decode(offset).value;
      if (this.records.size >= 10_000) this.records.clear();
      this.records.set(offset, rec);
    }
    return rec;
  }

  /** Left (bit 0) or right (bit 1) record of a tree node, read synchronously (open only). */
  private recordAtOpen(node: number, bit: number): number {
    const at = node * this.nodeByteSize;
    const start = at - (at % this.blockSize);
    return this.recordIn(this.read(start, this.blockSize), at - start, bit);
  }

  /** Left (bit 0) or right (bit 1) record of the node at offset `o` of a tree block. */
  private recordIn(block: Buffer, o: number, bit: number): number {
    switch (this.metadata.recordSize) {
      case 24:
        return bit === 0 ? block.readUIntBE(o, 3) : block.readUIntBE(o + 3, 3);
      case 28:
        return bit === 0
          ? ((block[o + 3]! & 0xf0) << 20) | block.readUIntBE(o, 3)
          : ((block[o + 3]! & 0x0f) << 24) | block.readUIntBE(o + 4, 3);
      default:
        return bit === 0 ? block.readUInt32BE(o) : block.readUInt32BE(o + 4);
    }
  }

  /** `length` bytes at `position` (shorter at the end of the file). */
  private read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafeSlow(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }
}

/** An address's bytes (4 for IPv4, 16 for IPv6), or null when it is not an IP address. */
export function ipBytes(ip: string): Uint8Array | null {
  const family = isIP(ip);
  if (family === 4) return v4Bytes(ip, new Uint8Array(4), 0);
  if (family !== 6) return null;
  const out = new Uint8Array(16);
  let addr = ip;
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = addr.lastIndexOf(':');
  const v4Tail = addr.includes('.', lastColon) ? addr.slice(lastColon + 1) : null;
  if (v4Tail !== null) addr = `${addr.slice(0, lastColon + 1)}0:0`;
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, null];
  const groups = (s: string | null | undefined) => (s ? s.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const t = groups(tail);
  for (let i = 0; i < h.length; i++) writeGroup(out, i * 2, h[i]!);
  for (let i = 0; i < t.length; i++) writeGroup(out, 16 - (t.length - i) * 2, t[i]!);
  if (v4Tail !== null) v4Bytes(v4Tail, out, 12);
  return out;
}

function writeGroup(out: Uint8Array, at: number, group: string): void {
  const v = parseInt(group, 16);
  out[at] = v >> 8;
  out[at + 1] = v & 0xff;
}

function v4Bytes(ip: string, out: Uint8Array, at: number): Uint8Array {
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
  return out;
}

/** The MaxMind DB data format (spec: maxmind.github.io/MaxMind-DB), offsets relative to `buf`. */
class Decoder {
  constructor(private readonly buf: Buffer) {}

  decode(offset: number): { value: unknown; next: number } {
    const buf = this.buf;
    let o = offset;
    const ctrl = buf[o++]!;
    let type = ctrl >> 5;
    if (type === 1) {
      // Pointer: its target is decoded, and decoding continues after the pointer itself.
      const ss = (ctrl >> 3) & 3;
      const v = ctrl & 7;
      let p: number;
      if (ss === 0) p = (v << 8) | buf[o]!;
      else if (ss === 1) p = ((v << 16) | buf.readUInt16BE(o)) + 2048;
      else if (ss === 2) p = ((v << 24) | buf.readUIntBE(o, 3)) + 526336;
      else p = buf.readUInt32BE(o);
      return { value: this.decode(p).value, next: o + ss + 1 };
    }
    if (type === 0) type = 7 + buf[o++]!;
    let size = ctrl & 0x1f;
    if (size === 29) size = 29 + buf[o++]!;
    else if (size === 30) {
      size = 285 + buf.readUInt16BE(o);
      o += 2;
    } else if (size === 31) {
      size = 65821 + buf.readUIntBE(o, 3);
      o += 3;
    }
    switch (type) {
      case 2: // utf8 string
        return { value: buf.toString('utf8', o, o + size), next: o + size };
      case 3: // double
        return { value: buf.readDoubleBE(o), next: o + 8 };
      case 4: // bytes
        return { value: buf.subarray(o, o + size), next: o + size };
      case 5: // uint16
      case 6: // uint32
        return { value: size === 0 ? 0 : buf.readUIntBE(o, size), next: o + size };
      case 7: {
        // map
        const map: Record<string, unknown> = {};
        for (let i = 0; i < size; i++) {
          const k = this.decode(o);
          const v = this.decode(k.next);
          map[String(k.value)] = v.value;
          o = v.next;
        }
        return { value: map, next: o };
      }
      case 8: // int32 (fewer than 4 bytes: a non-negative value)
        return {
          value: size === 0 ? 0 : size < 4 ? buf.readUIntBE(o, size) : buf.readInt32BE(o),
          next: o + size,
        };
      case 9: // uint64
      case 10: {
        // uint128
        let n = 0n;
        for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(buf[o + i]!);
        return { value: n, next: o + size };
      }
      case 11: {
        // array
        const arr: unknown[] = [];
        for (let i = 0; i < size; i++) {
          const v = this.decode(o);
          arr.push(v.value);
          o = v.next;
        }
        return { value: arr, next: o };
      }
      case 14: // boolean: the value is the size
        return { value: size !== 0, next: o };
      case 15: // float
        return { value: buf.readFloatBE(o), next: o + 4 };
      default:
        throw new Error(`unsupported MaxMind DB data type ${type}`);
    }
  }
}
