import type { Readable } from 'node:stream';

/** What a scanner says of a file: safe or not, and its findings (kept in the scan result column). */
export interface ScanVerdict {
  safe: boolean;
  scanner: string;
  findings: string[];
}

/**
 * Called with the stored bytes before a file becomes available (before its row exists): a file
 * found unsafe is removed and the upload refused (422). Replace `FILE_SCANNER` in
 * files.module.ts with your own (ClamAV's clamd INSTREAM, a cloud scanner, ...).
 */
export interface FileScanner {
  scan(open: () => Readable, info: { size: number; type: string }): Promise<ScanVerdict>;
}

/** The EICAR anti-virus test file's signature: every scanner flags it. */
const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

/**
 * A stand-in that looks for known test signatures (EICAR) in the whole file, streaming with an
 * overlap so a signature split across chunks is found. Real deployments plug a real scanner in.
 */
export class SignatureScanner implements FileScanner {
  private readonly signatures: { name: string; bytes: Buffer }[] = [{ name: 'EICAR-Test-File', bytes: EICAR }];

  async scan(open: () => Readable): Promise<ScanVerdict> {
    const longest = Math.max(...this.signatures.map((s) => s.bytes.length));
    const findings = new Set<string>();
    let tail = Buffer.alloc(0);
    for await (const chunk of open()) {
      const b = Buffer.concat([tail, chunk as Buffer]);
      for (const s of this.signatures) if (b.includes(s.bytes)) findings.add(s.name);
      tail = b.subarray(Math.max(0, b.length - longest + 1));
    }
    return { safe: findings.size === 0, scanner: 'signatures', findings: [...findings] };
  }
}

/** Scans nothing; every file is safe (FILES_SCAN=off). */
export class NoScanner implements FileScanner {
  async scan(): Promise<ScanVerdict> {
    return { safe: true, scanner: 'none', findings: [] };
  }
}
