/**
 * How numbers read wherever people see them: the terminal, comparison.json's verdict prose,
 * metrics.md, comparison.md and the HTML report. One minus sign (U+2212, as typeset) everywhere.
 */

export const MINUS = '\u2212';

/** Three decimals; null (a score that does not exist) as 'n/a'; never '-0.000'. */
export function fixed(x: number | null, decimals = 3): string {
  if (x === null) return 'n/a';
  const text = x.toFixed(decimals);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** Three decimals with an explicit sign; a value that rounds to zero prints as 0.000. */
export function signed(x: number): string {
  const digits = Math.abs(x).toFixed(3);
  return digits === '0.000' ? digits : `${x > 0 ? '+' : MINUS}${digits}`;
}

/**
 * A p-value alone, for table cells: three significant digits, so that a p just under alpha
 * (0.0496) never prints as alpha itself; '< 0.001' below that; 'undefined' for null.
 */
export function pValue(p: number | null): string {
  if (p === null) return 'undefined';
  if (p < 0.001) return '< 0.001';
  return String(Number(p.toPrecision(3)));
}

/** A p-value in a sentence: 'p = 0.0123', 'p < 0.001', 'p undefined'. */
export function formatP(p: number | null): string {
  if (p === null) return 'p undefined';
  return p < 0.001 ? `p ${pValue(p)}` : `p = ${pValue(p)}`;
}

/** Mean ± sample sd in three decimals; a single value as itself. */
export function meanSd(mean: number, sd: number | null): string {
  return sd === null ? fixed(mean) : `${fixed(mean)} ± ${fixed(sd)}`;
}

/** A size in bytes as people read it: 812 B, 3.4 KiB, 2.1 MiB. */
export function bytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
