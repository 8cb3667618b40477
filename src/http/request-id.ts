// Request ids (x-request-id): random version-4 UUIDs, as crypto.randomUUID() makes them, taken from a
// pool of CSPRNG bytes refilled every 256 ids and written as ASCII into one scratch buffer, so that an id
// costs one 36-character string. randomUUID() builds its string from 20 pieces, which made it one of
// the largest allocations of a proxied request.
import { randomFillSync } from 'node:crypto';

const IDS_PER_FILL = 256;
const pool = Buffer.allocUnsafeSlow(16 * IDS_PER_FILL);
let offset = pool.length;
const out = Buffer.allocUnsafeSlow(36);
/** ASCII codes of the hex digits. */
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** A new random (version 4, RFC 9562) UUID in lower-case hex, e.g. "3b241101-e2bb-4255-8caf-4136c566a962". */
export function newRequestId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const o = offset;
  offset = o + 16;
  let j = 0;
  for (let i = 0; i < 16; i++) {
    let v = pool[o + i]!;
    if (i === 6) v = (v & 0x0f) | 0x40; // version 4
    else if (i === 8) v = (v & 0x3f) | 0x80; // variant 10
    out[j++] = HEX[v >> 4]!;
    out[j++] = HEX[v & 15]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) out[j++] = 45; // -
  }
  return out.toString('latin1', 0, 36);
}
