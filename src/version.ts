/**
 * The package version, stamped into every artifact this tool writes. A constant rather than a read
 * of package.json, so that every module stays free of file I/O and the browser app (src/web) can
 * use them; test/version.test.ts fails when it and package.json's version part.
 */
export const VERSION: string = '0.1.0';
export const PRODUCER: string = 'senet-ort';

/** The opening fields of every JSON file this tool writes: what it is, its layout version, who wrote it. */
export function fileHeader<K extends string>(kind: K): { format: `senet-ort ${K}`; version: 1; tool: string } {
  return { format: `senet-ort ${kind}`, version: 1, tool: `${PRODUCER} ${VERSION}` };
}
