import { createHash, type Hash } from 'node:crypto';

/**
 * A request body read once, as it arrives: every chunk goes into a SHA-256
 * (the load's identity is its Import-Id plus this hash) and is handed on to
 * the record reader. Whoever stops reading early (a syntax error) does not
 * cancel the body: `finish` reads and hashes the rest, so the answer never
 * races a half-sent request, and returns the hash. A line longer than
 * `maxLineBytes` stops the reading, so one endless line cannot fill memory.
 */
export class LineTooLong extends Error {
  constructor(
    readonly line: number,
    maxBytes: number,
  ) {
    super(`a line longer than ${maxBytes} bytes`);
  }
}

export const MAX_LINE_BYTES = 1 << 20;

const NEWLINE = 0x0a;

export class BodyTap {
  private readonly hash: Hash = createHash('sha256');
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private done = false;
  private digest: string | undefined;
  /** Complete lines seen so far, and the bytes of the line still open. */
  private newlines = 0;
  private open = 0;
  /** Bytes read so far. */
  bytes = 0;

  constructor(
    body: ReadableStream<Uint8Array> | null,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {
    this.reader = body?.getReader();
  }

  /** The body's chunks, hashed on the way. Stopping early leaves the rest for `finish`. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = await this.next();
      if (!chunk) return;
      this.measure(chunk);
      yield chunk;
    }
  }

  /** Reads (and hashes) whatever is left of the body; the SHA-256 of all of it, in hex. */
  async finish(): Promise<string> {
    while (await this.next());
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }

  private async next(): Promise<Uint8Array | undefined> {
    if (this.done || !this.reader) {
      this.done = true;
      return undefined;
    }
    const { done, value } = await this.reader.read();
    if (done) {
      this.done = true;
      return undefined;
    }
    this.hash.update(value);
    this.bytes += value.length;
    return value;
  }

  private measure(chunk: Uint8Array): void {
    let start = 0;
    let at: number;
    while ((at = chunk.indexOf(NEWLINE, start)) >= 0) {
      if (this.open + (at - start) > this.maxLineBytes) throw new LineTooLong(this.newlines + 1, this.maxLineBytes);
      this.newlines++;
      this.open = 0;
      start = at + 1;
    }
    this.open += chunk.length - start;
    if (this.open > this.maxLineBytes) throw new LineTooLong(this.newlines + 1, this.maxLineBytes);
  }
}
