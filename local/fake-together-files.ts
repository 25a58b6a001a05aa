import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/**
 * The files of the fake Together API (`GET /files/{id}` and `/files/{id}/content`): given bytes,
 * or a file made up on the fly, line by line, so that a file of hundreds of MB is served without
 * being held in memory by the fake either.
 */

/** A JSONL file generated while it is served: `lines` lines of exactly `lineBytes` bytes each. */
export interface GeneratedFile {
  readonly lines: number;
  /** Bytes per line, its newline included; at least 64. */
  readonly lineBytes: number;
}

/** The contents of a fake file. */
export type FakeFileContent = string | Buffer | GeneratedFile;

/** One file body the fake finished sending: what a copy of it must be byte for byte. */
export interface ServedFile {
  readonly fileId: string;
  readonly bytes: number;
  /** Hex SHA-256 of the bytes sent. */
  readonly sha256: string;
}

/** Lines per chunk of a generated file: about 64 KiB at 256-byte lines. */
const LINES_PER_CHUNK = 256;

/** The size of a file's contents, for `Content-Length`. */
export function fileBytes(content: FakeFileContent): number {
  if (typeof content === 'string') return Buffer.byteLength(content);
  if (Buffer.isBuffer(content)) return content.length;
  return content.lines * content.lineBytes;
}

/**
 * The file's object as `GET /files/{id}` answers it: `id`, `object: "file"`, the size in `bytes`,
 * `created_at` (epoch seconds), `filename` and `purpose`.
 */
export function fileObject(fileId: string, content: FakeFileContent, nowMs: number): Record<string, unknown> {
  return { id: fileId, object: 'file', bytes: fileBytes(content), created_at: Math.floor(nowMs / 1000), filename: `${fileId}.jsonl`, purpose: 'batch-api' };
}

/** Line `index` (0-based) of a generated file: a batch result with its `custom_id`, padded. */
export function generatedLine(fileId: string, index: number, lineBytes: number): string {
  const head = `{"custom_id":"${fileId}-${index}","response":{"status_code":200,"body":"`;
  const tail = '"}}\n';
  const padding = lineBytes - Buffer.byteLength(head) - tail.length;
  if (padding < 0) throw new Error(`lineBytes ${lineBytes} is too small for file ${fileId}; use at least ${Buffer.byteLength(head) + tail.length}`);
  return head + 'x'.repeat(padding) + tail;
}

function contentStream(fileId: string, content: FakeFileContent): Readable {
  if (typeof content === 'string' || Buffer.isBuffer(content)) return Readable.from([Buffer.from(content)]);
  if (content.lineBytes < 64) throw new Error(`lineBytes must be at least 64, got ${content.lineBytes}`);
  let next = 0;
  // Readable.from over a generator pulls one chunk at a time, as the socket drains.
  return Readable.from(
    (function* () {
      while (next < content.lines) {
        const end = Math.min(content.lines, next + LINES_PER_CHUNK);
        let chunk = '';
        for (; next < end; next += 1) chunk += generatedLine(fileId, next, content.lineBytes);
        yield Buffer.from(chunk);
      }
    })(),
  );
}

/**
 * Sends a file with its `Content-Length`, hashing what goes out. With `breakAfterBytes`, the
 * connection is cut after that many bytes, as a network failure mid-download would.
 */
export async function sendFile(
  response: ServerResponse,
  fileId: string,
  content: FakeFileContent,
  options: { breakAfterBytes?: number; onServed: (served: ServedFile) => void },
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(fileBytes(content)) });
  const hash = createHash('sha256');
  let sent = 0;
  for await (const chunk of contentStream(fileId, content)) {
    let piece = chunk as Buffer;
    if (options.breakAfterBytes !== undefined && sent + piece.length > options.breakAfterBytes) {
      piece = piece.subarray(0, Math.max(0, options.breakAfterBytes - sent));
      if (piece.length > 0) await write(response, piece);
      response.destroy();
      return;
    }
    hash.update(piece);
    sent += piece.length;
    if (!(await write(response, piece))) return;
  }
  response.end();
  options.onServed({ fileId, bytes: sent, sha256: hash.digest('hex') });
}

/** Writes with backpressure; false when the client went away. */
function write(response: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false);
  if (response.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      response.off('drain', onDrain);
      response.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    response.on('drain', onDrain);
    response.on('close', onClose);
  });
}

/** What a scripted batch's files hold unless a test gives them contents: a few result lines. */
export function defaultBatchFile(fileId: string): string {
  return Array.from({ length: 3 }, (_, index) => `${JSON.stringify({ custom_id: `${fileId}-${index}`, response: { status_code: 200, body: { index } } })}\n`).join('');
}
