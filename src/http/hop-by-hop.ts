// Hop-by-hop headers (RFC 9110 §7.6.1) are meaningful for one connection only and never forwarded.

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings']);

/** True when a lower-case header name is hop-by-hop by itself (Connection-named ones are found separately). */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-');
}

const NO_TOKENS: string[] = [];

/** Lower-case header names listed in a Connection header value ("close, X-Foo" → ["x-foo"]). */
export function connectionTokens(value: string): string[] {
  // the usual values name no header: skip the split
  const v = value.length <= 10 ? value.toLowerCase() : '';
  if (v === 'keep-alive' || v === 'close') return NO_TOKENS;
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '' && t !== 'close' && t !== 'keep-alive') out.push(t);
  }
  return out;
}
