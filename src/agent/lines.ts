/**
 * Splits a byte stream into newline-delimited frames. A line longer than `maxBytes` is dropped whole (up to
 * its newline) and reported, so one bad frame cannot exhaust memory or desynchronise the stream.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private dropping = false;
  private dropped = 0;
  private readonly maxBytes: number;
  private readonly onLine: (line: string) => void;
  private readonly onOversized: (bytes: number) => void;

  constructor(options: {
    maxBytes: number;
    onLine: (line: string) => void;
    onOversized: (bytes: number) => void;
  }) {
    this.maxBytes = options.maxBytes;
    this.onLine = options.onLine;
    this.onOversized = options.onOversized;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    for (let nl = rest.indexOf(10); nl !== -1; nl = rest.indexOf(10)) {
      this.take(rest.subarray(0, nl));
      const line = Buffer.concat(this.parts, this.length);
      const { dropping, dropped } = this;
      this.parts = [];
      this.length = 0;
      this.dropping = false;
      this.dropped = 0;
      if (dropping) this.onOversized(dropped);
      else if (line.length > 0) this.onLine(line.toString("utf8"));
      rest = rest.subarray(nl + 1);
    }
    this.take(rest);
  }

  private take(piece: Buffer): void {
    if (this.dropping) {
      this.dropped += piece.length;
      return;
    }
    if (piece.length === 0) return;
    if (this.length + piece.length > this.maxBytes) {
      this.dropping = true;
      this.dropped = this.length + piece.length;
      this.parts = [];
      this.length = 0;
      return;
    }
    this.parts.push(Buffer.from(piece));
    this.length += piece.length;
  }
}
