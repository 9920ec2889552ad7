/** Number, money and time formatting for the dashboard (the browser's locale). */

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export const fmtInt = (n: number): string => int.format(n);

export const fmtPct = (fraction: number, digits = 1): string =>
  `${(fraction * 100).toFixed(digits)}%`;

/** A value in a goal's currency; a code Intl does not know is shown after the number. */
export function fmtMoney(value: number | null, currency: string): string {
  if (value === null) return '–';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

export function fmtDateTime(iso: string, timeZone?: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      dateStyle: 'medium',
      timeStyle: 'short',
      ...(timeZone ? { timeZone } : {}),
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

export function fmtDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${seconds % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export const humanize = (s: string): string =>
  (s.charAt(0).toUpperCase() + s.slice(1)).replace(/_/g, ' ');
