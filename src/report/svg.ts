/**
 * A tiny markup builder that escapes by construction, for SVG and for the HTML report alike.
 * Strings and numbers given as text or attribute values are always escaped; only `Markup`
 * (made by `el`, `fragment` or, for constant text written here, `raw`) goes in verbatim.
 * So a class name such as `<b>&"x"` can never break the document it is drawn into.
 */

/** Text that is already markup: the output of `el`, `fragment` or `raw`. */
export class Markup {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** What an element may contain: nested arrays are flattened, null, undefined and false are skipped. */
export type Child = Markup | string | number | null | undefined | false | readonly Child[];

/** An attribute value: false, null and undefined leave the attribute out; true writes `name=""`. */
export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** Elements written `<x/>` when empty: SVG shapes and HTML void elements. Others get `<x></x>`. */
const SELF_CLOSING = new Set([
  'circle', 'ellipse', 'line', 'path', 'polygon', 'polyline', 'rect', 'stop', 'use',
  'br', 'col', 'hr', 'img', 'input', 'link', 'meta', 'wbr',
]);
const NAME = /^[A-Za-z_][-A-Za-z0-9_.:]*$/;
// Characters XML 1.0 forbids outright (even as references), and lone surrogates.
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escape text content; characters XML cannot hold at all become U+FFFD. */
export function escapeText(text: string): string {
  return text.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape an attribute value (quoted with double quotes). */
export function escapeAttr(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * A number as markup writes it: at most `decimals` decimals, no trailing zeros, no "-0".
 * A non-finite number in a drawing is a bug upstream, so it throws rather than drawing nothing.
 */
export function num(x: number, decimals = 2): string {
  if (!Number.isFinite(x)) throw new Error(`cannot draw a non-finite number (${x})`);
  const s = String(Number(x.toFixed(decimals)));
  return s === '-0' ? '0' : s;
}

/** `<tag attrs>children</tag>`, escaping every string in attrs and children. */
export function el(tag: string, attrs: Attrs = {}, ...children: Child[]): Markup {
  if (!NAME.test(tag)) throw new Error(`invalid element name ${JSON.stringify(tag)}`);
  let open = `<${tag}`;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (!NAME.test(name)) throw new Error(`invalid attribute name ${JSON.stringify(name)} on <${tag}>`);
    const text = value === true ? '' : typeof value === 'number' ? num(value) : escapeAttr(value);
    open += ` ${name}="${text}"`;
  }
  const inner = render(children);
  if (inner === '' && SELF_CLOSING.has(tag)) return new Markup(`${open}/>`);
  return new Markup(`${open}>${inner}</${tag}>`);
}

/** Children side by side, without an element around them. */
export function fragment(...children: Child[]): Markup {
  return new Markup(render(children));
}

/** Trusted markup, verbatim: only for constant text in this code base (a stylesheet), never for data. */
export function raw(text: string): Markup {
  return new Markup(text);
}

/** Flatten and serialise children: markup verbatim, strings and numbers escaped. */
export function render(child: Child): string {
  if (child === null || child === undefined || child === false) return '';
  if (child instanceof Markup) return child.text;
  if (typeof child === 'string') return escapeText(child);
  if (typeof child === 'number') return escapeText(String(child));
  return (child as readonly Child[]).map(render).join('');
}

/** Fonts present on Debian (DejaVu, Liberation) first, so librsvg's PNG and the browser agree. */
export const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/**
 * A standalone SVG document: xmlns, a viewBox that scales with its container, the `title` as the
 * accessible name (first child), a white background and the report's font.
 */
export function svgDocument(width: number, height: number, title: string, ...children: Child[]): string {
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width,
      height,
      viewBox: `0 0 ${num(width)} ${num(height)}`,
      role: 'img',
      'font-family': FONT_FAMILY,
      'font-size': 12,
    },
    el('title', {}, title),
    el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    children,
  ).text;
}

/** Rough width of a line of text, for layout (DejaVu Sans averages about 0.6 em per character). */
export function textWidth(text: string, fontSize: number): number {
  return [...text].length * fontSize * 0.6;
}
