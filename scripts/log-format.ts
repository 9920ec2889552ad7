/**
 * Readable log lines for `npm start` in a terminal: the services always write JSON lines (pino);
 * the supervisor shows them as `12:03:04.567 INFO  processor_consuming topic=… group=…`, with
 * the level coloured. Lines that are not pino JSON pass through unchanged.
 */
const LEVELS: Record<number, [name: string, color: number]> = {
  10: ['TRACE', 90],
  20: ['DEBUG', 36],
  30: ['INFO ', 32],
  40: ['WARN ', 33],
  50: ['ERROR', 31],
  60: ['FATAL', 35],
};
/** Fields every line carries, shown in their own place or not at all. */
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'service']);

function valueText(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

export function formatLogLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || !('level' in parsed)) return line;
    rec = parsed;
  } catch {
    return line;
  }
  const [name, code] = LEVELS[rec.level as number] ?? [String(rec.level), 0];
  const time =
    typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '--:--:--';
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(' ');
  const level = color ? `\x1b[${code}m${name}\x1b[0m` : name;
  const msg = typeof rec.msg === 'string' ? rec.msg : valueText(rec.msg ?? '');
  return `${time} ${level} ${msg}${fields ? ` ${fields}` : ''}`;
}
