import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** The package version, stamped into every artifact this tool writes. */
export const VERSION: string = pkg.version;
export const PRODUCER: string = 'senet-ort';
