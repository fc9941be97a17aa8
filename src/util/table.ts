/** Tables as people read them: aligned plain text for the terminal, Markdown for .md files. */

export type Align = 'l' | 'r';

/** Columns two spaces apart; by default the first left-aligned, the others right-aligned (numbers). */
export function textTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], align?: readonly Align[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const left = (i: number): boolean => (align ? align[i] === 'l' : i === 0);
  return cells.map((r) => r.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** A GitHub-flavoured Markdown table; pipes and line breaks in cells are escaped. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `| ${align.map((a) => (a === 'r' ? '---:' : ':---')).join(' | ')} |`, ...rows.map(line)].join('\n');
}
