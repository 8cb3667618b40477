// Before a setup is measured: one request per payload through it, checking status and body size,
// so a proxy that answers wrongly is skipped with a reason instead of producing fast garbage.
import { jsonBody, type Payload } from './types.ts';

const EXPECTED_BODY: Record<string, number> = { '/2b': 2, '/64k': 64 * 1024, '/post': 2 };

export async function checkSetup(baseUrl: string, payloads: readonly Payload[]): Promise<void> {
  for (const p of payloads) {
    const init: RequestInit = { method: p.method, signal: AbortSignal.timeout(5000) };
    if (p.bodyBytes > 0) {
      init.body = p.json === true ? new Uint8Array(jsonBody(p.bodyBytes)) : new Uint8Array(p.bodyBytes).fill(0x62);
      init.headers = { 'content-type': p.json === true ? 'application/json' : 'application/octet-stream' };
    }
    let res: Response;
    try {
      res = await fetch(baseUrl + p.path, init);
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new Error(`check ${p.method} ${p.path}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
    }
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`check ${p.method} ${p.path}: status ${res.status}: ${new TextDecoder().decode(body.slice(0, 200))}`);
    const want = EXPECTED_BODY[p.path];
    if (want !== undefined && body.length !== want) throw new Error(`check ${p.method} ${p.path}: body ${body.length} bytes, expected ${want}`);
    const received = res.headers.get('x-received-bytes');
    // a JSON body may be rewritten by a filter on the way: only bytes must arrive
    if (p.bodyBytes > 0 && (p.json === true ? !(Number(received) > 0) : received !== String(p.bodyBytes))) {
      throw new Error(`check ${p.method} ${p.path}: upstream received ${received ?? '?'} bytes of ${p.bodyBytes}`);
    }
  }
}
