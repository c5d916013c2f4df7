import HandlebarsModule from 'handlebars';

/**
 * A Handlebars of our own: the built-in block helpers (if, unless, each, with, lookup), no `log`
 * (a template could write to the app's stderr) and no partials.
 */
const Handlebars = HandlebarsModule.create();
Handlebars.unregisterHelper('log');

type Node = { type: string; [k: string]: unknown };

/**
 * The variables a Handlebars template reads from its context: the first part of every path
 * outside block parameters (`{{user.name}}` → `user`), the arguments of helpers and blocks
 * included; `this`, `@data` and names a block introduces (`as |item|`) are not the caller's.
 */
export function variablesOf(source: string): Set<string> {
  const ast = Handlebars.parse(source) as unknown as Node;
  const out = new Set<string>();
  const walk = (n: unknown, scoped: Set<string>, depth: number): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, scoped, depth);
      return;
    }
    const node = n as Node;
    if (node.type === 'PathExpression') {
      const p = node as unknown as { data: boolean; parts: string[]; original: string; depth: number };
      if (p.data || p.parts.length === 0 || p.original.startsWith('this') || p.original.startsWith('.') || p.depth > 0) return;
      // Inside #each / #with the context changes: only names outside any block are checked.
      if (depth === 0 && !scoped.has(p.parts[0])) out.add(p.parts[0]);
      return;
    }
    if (node.type === 'BlockStatement') {
      const b = node as unknown as {
        path: Node;
        params: Node[];
        hash?: Node;
        program?: { blockParams?: string[]; body: Node[] };
        inverse?: { body: Node[] };
      };
      const name = (b.path as unknown as { original?: string }).original;
      walk(b.params, scoped, depth);
      walk(b.hash, scoped, depth);
      const inner = new Set([...scoped, ...(b.program?.blockParams ?? [])]);
      const changes = name === 'each' || name === 'with';
      walk(b.program?.body, inner, changes ? depth + 1 : depth);
      walk(b.inverse?.body, scoped, depth);
      return;
    }
    if (node.type === 'MustacheStatement' || node.type === 'SubExpression') {
      const m = node as unknown as { path: Node; params: Node[]; hash?: Node };
      // A helper's own name is not a variable; a lone path is.
      if (m.params.length === 0 && !m.hash) walk(m.path, scoped, depth);
      walk(m.params, scoped, depth);
      walk(m.hash, scoped, depth);
      return;
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc') walk(v, scoped, depth);
  };
  walk(ast, new Set(), 0);
  return out;
}

const cache = new Map<string, HandlebarsTemplateDelegate>();

/** Render `source` with `vars`: HTML escaped unless `text` (subjects, plain-text parts). */
export function render(source: string, vars: Record<string, unknown>, text = false): string {
  const key = `${text ? 't' : 'h'}:${source}`;
  let t = cache.get(key);
  if (!t) {
    t = Handlebars.compile(source, { noEscape: text, strict: false, knownHelpersOnly: false });
    if (cache.size > 1000) cache.clear();
    cache.set(key, t);
  }
  return t(vars, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false, partials: {} });
}

/** The text of an HTML-escaped body (for the plain-text part of an email). */
export function unescapeHtml(s: string): string {
  return s.replace(
    /&(amp|lt|gt|quot|#x27|#x60|#x3D);/g,
    (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#x27': "'", '#x60': '`', '#x3D': '=' })[e] ?? '',
  );
}
