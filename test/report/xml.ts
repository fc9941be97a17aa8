// A strict well-formedness check for the markup the report writes (there is no XML parser among the
// dependencies): balanced, properly nested tags, one root, quoted attributes without duplicates,
// and no bare '<' or '&' in text or attribute values. It returns the element names in document order.

const NAME = '[A-Za-z_][-A-Za-z0-9_.:]*';
const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/g;
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"]*")*)\\s*(/?)>`);
const ATTR = new RegExp(`(${NAME})\\s*=\\s*"([^"]*)"`, 'g');

function checkText(text: string, where: string): void {
  const stripped = text.replace(ENTITY, '');
  if (stripped.includes('&')) throw new Error(`bare or unknown entity '&' in ${where}: ${JSON.stringify(text.slice(0, 80))}`);
  if (stripped.includes('<')) throw new Error(`bare '<' in ${where}: ${JSON.stringify(text.slice(0, 80))}`);
}

/** Throws with the first problem found; otherwise returns the element names in document order. */
export function checkWellFormed(markup: string, options: { allowDoctype?: boolean } = {}): string[] {
  let rest = markup;
  if (options.allowDoctype) rest = rest.replace(/^<!DOCTYPE html>\s*/i, '');
  else if (rest.startsWith('<?xml')) rest = rest.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const elements: string[] = [];
  let roots = 0;
  let offset = markup.length - rest.length;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const text = lt < 0 ? rest : rest.slice(0, lt);
    if (text.length > 0) {
      if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root element at ${offset}`);
      checkText(text, `text at ${offset}`);
    }
    if (lt < 0) break;
    rest = rest.slice(lt);
    offset += lt;
    if (rest.startsWith('<!--')) {
      const end = rest.indexOf('-->');
      if (end < 0) throw new Error(`unterminated comment at ${offset}`);
      rest = rest.slice(end + 3);
      offset += end + 3;
      continue;
    }
    const m = TAG.exec(rest);
    if (m === null) throw new Error(`malformed tag at ${offset}: ${JSON.stringify(rest.slice(0, 60))}`);
    const [whole, closing, name, attrs, selfClosing] = m as unknown as [string, string, string, string, string];
    if (closing) {
      if (attrs.trim() !== '' || selfClosing) throw new Error(`malformed end tag </${name}> at ${offset}`);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> at ${offset} closes <${open ?? 'nothing'}>`);
    } else {
      if (stack.length === 0) roots += 1;
      if (roots > 1) throw new Error(`second root element <${name}> at ${offset}`);
      const seen = new Set<string>();
      for (const [, attr, value] of attrs.matchAll(ATTR)) {
        if (seen.has(attr!)) throw new Error(`duplicate attribute ${attr} on <${name}> at ${offset}`);
        seen.add(attr!);
        checkText(value!, `attribute ${attr} of <${name}> at ${offset}`);
      }
      elements.push(name);
      if (!selfClosing) stack.push(name);
    }
    rest = rest.slice(whole.length);
    offset += whole.length;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('> <')}>`);
  if (roots !== 1) throw new Error('no root element');
  return elements;
}
