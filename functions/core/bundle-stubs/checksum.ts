import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

/**
 * Stands in for `@smithy/core/checksum` in the receiver's bundle (RECEIVER_BUNDLE_ALIASES in
 * infra/constructs/bundled-function.ts). Its clients take two hashes from it: SHA-256 (request
 * signing) and MD5 (SQS checks the MD5 of each message body it was sent). The real module also
 * carries pure-JavaScript fallbacks of both, for runtimes without node:crypto, and the stream
 * hashers S3 needs; Lambda's Node has node:crypto, and the receiver calls no S3.
 */

type Bytes = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: Bytes): Buffer | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

function toBytes(digest: Buffer): Uint8Array {
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** SHA-256, or HMAC-SHA-256 with a secret: the SDK's `Checksum` interface over node:crypto. */
export class Sha256 {
  readonly digestLength = 32;
  private hash: Hash | Hmac;
  private finished = false;

  constructor(private readonly secret?: Bytes) {
    this.hash = this.create();
  }

  update(data: Bytes): void {
    if (this.finished) throw new Error('Attempted to update an already finished hash.');
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    // An HMAC cannot be copied: it is finished by its digest, as in the SDK's own class.
    if (this.secret !== undefined) {
      this.finished = true;
      return toBytes(this.hash.digest());
    }
    return toBytes((this.hash as Hash).copy().digest());
  }

  reset(): void {
    this.hash = this.create();
    this.finished = false;
  }

  private create(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

/** MD5 over node:crypto: the SDK's `Checksum` interface. */
export class Md5 {
  readonly digestLength = 16;
  private hash = createHash('md5');

  update(data: Bytes): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return toBytes(this.hash.copy().digest());
  }

  reset(): void {
    this.hash = createHash('md5');
  }
}
