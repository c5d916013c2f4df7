/**
 * The media type of bytes, from their first bytes (magic numbers), never from what the client
 * says. Text is recognised as valid UTF-8 without NUL bytes; what is not known is
 * application/octet-stream.
 */
const SIGNATURES: { type: string; at?: number; bytes: number[] }[] = [
  { type: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
  { type: 'image/gif', bytes: [0x47, 0x49, 0x46, 0x38] },
  // BM, then the size and two reserved words that are zero.
  { type: 'image/bmp', bytes: [0x42, 0x4d] },
  { type: 'image/tiff', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { type: 'image/tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { type: 'application/pdf', bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] },
  { type: 'application/zip', bytes: [0x50, 0x4b, 0x03, 0x04] },
  { type: 'application/zip', bytes: [0x50, 0x4b, 0x05, 0x06] },
  { type: 'application/gzip', bytes: [0x1f, 0x8b] },
  { type: 'application/x-7z-compressed', bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { type: 'application/vnd.rar', bytes: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07] },
  { type: 'audio/mpeg', bytes: [0x49, 0x44, 0x33] },
  { type: 'audio/ogg', bytes: [0x4f, 0x67, 0x67, 0x53] },
  { type: 'audio/flac', bytes: [0x66, 0x4c, 0x61, 0x43] },
  { type: 'application/wasm', bytes: [0x00, 0x61, 0x73, 0x6d] },
  { type: 'application/x-executable', bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { type: 'application/x-msdownload', bytes: [0x4d, 0x5a] },
];

function startsWith(b: Buffer, sig: number[], at = 0): boolean {
  return b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
}

function utf8Text(b: Buffer): boolean {
  if (b.includes(0)) return false;
  // The head may end inside a character: drop up to 3 trailing bytes of an incomplete one.
  for (let cut = 0; cut <= 3 && cut < b.length + 1; cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, b.length - cut));
      return true;
    } catch {
      // try shorter
    }
  }
  return false;
}

export function sniff(head: Buffer): string {
  if (head.length === 0) return 'application/octet-stream';
  for (const s of SIGNATURES) {
    if (!startsWith(head, s.bytes, s.at)) continue;
    // Two-byte signatures alone would take text for them: their headers must hold.
    if (s.type === 'image/bmp' && !(head.length >= 26 && head.readUInt32LE(6) === 0)) continue;
    if (s.type === 'application/x-msdownload' && !(head.length >= 64 && head.readUInt32LE(60) < head.length + 65_536)) continue;
    return s.type;
  }
  if (startsWith(head, [0x52, 0x49, 0x46, 0x46]) && head.length >= 12) {
    const kind = head.subarray(8, 12).toString('latin1');
    if (kind === 'WEBP') return 'image/webp';
    if (kind === 'WAVE') return 'audio/wav';
    if (kind === 'AVI ') return 'video/x-msvideo';
  }
  if (head.length >= 12 && head.subarray(4, 8).toString('latin1') === 'ftyp') {
    const brand = head.subarray(8, 12).toString('latin1');
    if (brand.startsWith('qt')) return 'video/quicktime';
    if (brand.startsWith('M4A')) return 'audio/mp4';
    if (/^(avif|avis)/.test(brand)) return 'image/avif';
    if (/^(heic|heix|mif1)/.test(brand)) return 'image/heic';
    return 'video/mp4';
  }
  if (utf8Text(head)) return 'text/plain';
  return 'application/octet-stream';
}

/** Text formats whose bytes cannot be told apart: the client's word is taken among these only. */
const TEXT_SUBTYPES = new Set([
  'text/plain',
  'text/csv',
  'text/markdown',
  'text/tab-separated-values',
  'application/json',
  'application/x-ndjson',
]);

/** The type kept for bytes sniffed as `sniffed` that the client called `claimed`. */
export function keptType(sniffed: string, claimed: string | undefined): string {
  const c = (claimed ?? '').split(';')[0].trim().toLowerCase();
  if (sniffed === 'text/plain' && TEXT_SUBTYPES.has(c)) return c;
  // Formats that are ZIP files inside (office documents, EPUB, JAR): the claim, if it is one.
  if (
    sniffed === 'application/zip' &&
    /^application\/(vnd\.(openxmlformats-officedocument|oasis\.opendocument)\.[a-z0-9.+-]{1,100}|epub\+zip|java-archive)$/.test(c)
  )
    return c;
  return sniffed;
}

/** Whether `type` is one of `allowed` (`image/*` style wildcards; empty: any). */
export function allowedType(type: string, allowed: string[]): boolean {
  if (allowed.length === 0) return true;
  return allowed.some((a) => a === type || (a.endsWith('/*') && type.startsWith(a.slice(0, -1))));
}
