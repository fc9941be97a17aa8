import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** The package version, stamped into every artifact this tool writes. */
export const VERSION: string = pkg.version;
export const PRODUCER: string = 'senet-ort';

/** The opening fields of every JSON file this tool writes: what it is, its layout version, who wrote it. */
export function fileHeader<K extends string>(kind: K): { format: `senet-ort ${K}`; version: 1; tool: string } {
  return { format: `senet-ort ${kind}`, version: 1, tool: `${PRODUCER} ${VERSION}` };
}
