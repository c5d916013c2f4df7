/**
 * A file name a client sent, made safe to keep and to send back in Content-Disposition: the last
 * path component only (`/` and `\` both separate), no control characters, none of `<>:"|?*`, no
 * leading dots or trailing dots and spaces, no Windows device names, at most `max` characters
 * with the extension kept. Never empty.
 */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

export function safeFileName(raw: string | undefined, max = 255): string {
  let name = (raw ?? '').normalize('NFC');
  name = name.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  name = name.replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '');
  name = name.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (RESERVED.test(name)) name = `_${name}`;
  if (name === '') name = 'file';
  const chars = [...name];
  if (chars.length > max) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 16 ? [...name.slice(dot)] : [];
    name = chars.slice(0, max - ext.length).join('') + ext.join('');
  }
  return name;
}

/** `Content-Disposition` for any name: an ASCII fallback and the UTF-8 name (RFC 6266, 8187). */
export function contentDisposition(name: string, inline = false): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
