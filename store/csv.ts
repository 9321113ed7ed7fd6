/** RFC 4180: CRLF line ends; a field with a quote, comma or line break is quoted, quotes doubled. */
export function toCsv(header: readonly string[], records: ReadonlyArray<Record<string, unknown>>): string {
  const field = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [header, ...records.map((r) => header.map((k) => r[k]))].map((cells) => cells.map(field).join(',') + '\r\n').join('');
}
