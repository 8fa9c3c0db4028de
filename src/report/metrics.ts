/**
 * Run metrics logs (Node only).
 *
 * A {@link MetricsLog} writes every record twice, immediately (one `write(2)` each, no buffering, so Ctrl-C or a
 * crash keeps everything logged so far):
 *
 *  - `metrics.jsonl`: one JSON object per line, exactly the record given (non-finite numbers become `null`, as JSON
 *    has no NaN/Infinity).
 *  - `metrics.csv`: ONE csv for all record kinds. Its header is the union of all keys seen so far, in order of first
 *    appearance, with `kind` first. When a record brings a key the header does not have yet (typically the first eval
 *    record after train records), the existing CSV rows are re-emitted under the new header into a temp file which is
 *    renamed over the old one, so the CSV is always parseable and rectangular. Missing values are empty cells;
 *    non-finite numbers are written `NaN`, `Infinity`, `-Infinity` (pandas/R read these); fields holding `,` `"` or a
 *    line break are quoted RFC-4180 style.
 *
 * With `{ resume: true }` the CSV is rebuilt from `metrics.jsonl` (so NaN cells of the old rows become empty); with
 * `keep: n` as well, only the first n records are kept (a resumed run truncates its log back to its checkpoint).
 *
 * {@link readMetrics} reads the records back from `metrics.jsonl` (tolerating a cut-off last line).
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export type MetricValue = number | string | boolean | null;
export type MetricRecord = Record<string, MetricValue>;

export const METRICS_JSONL = 'metrics.jsonl';
export const METRICS_CSV = 'metrics.csv';

export interface MetricsLogOptions {
  /**
   * Continue an existing log (resumed run): keep the records already in `metrics.jsonl` and append after them.
   * Default false: start fresh (existing metrics files are truncated).
   */
  resume?: boolean;
  /**
   * With `resume`: keep only the first `keep` records (those the checkpoint being resumed from had seen), dropping
   * records a killed run wrote after its last checkpoint, so the resumed run writes them again exactly once.
   */
  keep?: number;
}

/** Appends metric records to `dir/metrics.jsonl` and `dir/metrics.csv` (see the module header for the format). */
export class MetricsLog {
  readonly dir: string;
  readonly jsonlPath: string;
  readonly csvPath: string;
  private jsonFd: number;
  private csvFd: number;
  private columns: string[] = [];
  private columnSet = new Set<string>();
  private closed = false;
  private count = 0;

  constructor(dir: string, opts: MetricsLogOptions = {}) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.jsonlPath = join(dir, METRICS_JSONL);
    this.csvPath = join(dir, METRICS_CSV);
    if (opts.resume && existsSync(this.jsonlPath)) {
      const all = readMetrics(dir);
      const old = opts.keep !== undefined && opts.keep < all.length ? all.slice(0, opts.keep) : all;
      // drop a possibly cut-off last line by rewriting the jsonl from what parsed
      writeAtomic(this.jsonlPath, old.map((r) => JSON.stringify(r) + '\n').join(''));
      for (const r of old) this.addKeys(r);
      this.count = old.length;
      this.rebuildCsv(old);
      this.jsonFd = openSync(this.jsonlPath, 'a');
    } else {
      this.jsonFd = openSync(this.jsonlPath, 'w');
      writeAtomic(this.csvPath, '');
    }
    this.csvFd = openSync(this.csvPath, 'a');
  }

  /** Number of records in the log (including resumed ones). */
  get length(): number {
    return this.count;
  }

  /** The current CSV header. */
  get header(): readonly string[] {
    return this.columns;
  }

  /** Writes one record to both files now. */
  append(record: MetricRecord): void {
    if (this.closed) throw new Error('MetricsLog.append after close()');
    writeSync(this.jsonFd, JSON.stringify(record) + '\n');
    this.count++;
    if (this.addKeys(record)) {
      // new columns: rewrite the CSV under the new header (temp file + rename), then add this record
      closeSync(this.csvFd);
      this.widenCsv(record);
      this.csvFd = openSync(this.csvPath, 'a');
    } else {
      writeSync(this.csvFd, csvRow(this.columns, record));
    }
  }

  /** Closes the files. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.jsonFd);
    closeSync(this.csvFd);
  }

  private addKeys(record: MetricRecord): boolean {
    let added = false;
    if (!this.columnSet.has('kind')) {
      this.columnSet.add('kind');
      this.columns.unshift('kind');
      added = true;
    }
    for (const k of Object.keys(record)) {
      if (!this.columnSet.has(k)) {
        this.columnSet.add(k);
        this.columns.push(k);
        added = true;
      }
    }
    return added;
  }

  /** Re-emits the existing CSV rows (cells kept verbatim, so NaN stays NaN) under the widened header. */
  private widenCsv(record: MetricRecord): void {
    const rows = parseCsv(readFileSync(this.csvPath, 'utf8'));
    let text = csvLine(this.columns);
    if (rows.length > 1) {
      const old = rows[0]!;
      const pos = this.columns.map((c) => old.indexOf(c));
      for (let i = 1; i < rows.length; i++) {
        const row = rows[i]!;
        text += pos.map((p) => (p >= 0 ? csvField(row[p] ?? '') : '')).join(',') + '\n';
      }
    }
    text += csvRow(this.columns, record);
    writeAtomic(this.csvPath, text);
  }

  private rebuildCsv(records: MetricRecord[]): void {
    let text = csvLine(this.columns);
    for (const r of records) text += csvRow(this.columns, r);
    writeAtomic(this.csvPath, text);
  }
}

/**
 * Reads `dir/metrics.jsonl` (or the file itself when given a path ending in .jsonl). A last line without its
 * newline that does not parse (the writer was killed mid-line) is ignored; any other bad line is a UserError.
 */
export function readMetrics(dirOrFile: string): MetricRecord[] {
  const path = dirOrFile.endsWith('.jsonl') ? dirOrFile : join(dirOrFile, METRICS_JSONL);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read metrics log (${code === 'ENOENT' ? 'file not found' : code})`);
  }
  const lines = text.split('\n');
  const out: MetricRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) break; // cut-off last line (no trailing newline)
      throw new UserError(`${path}:${i + 1}: not valid JSON`);
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      throw new UserError(`${path}:${i + 1}: expected a JSON object per line`);
    }
    out.push(rec as MetricRecord);
  }
  return out;
}

/** One CSV cell. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (typeof v === 'number') s = Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  else if (typeof v === 'string') s = v;
  else if (typeof v === 'boolean') s = v ? 'true' : 'false';
  else s = JSON.stringify(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** One CSV line (with trailing \n) from cells. */
export function csvLine(cells: readonly unknown[]): string {
  return cells.map(csvField).join(',') + '\n';
}

function csvRow(columns: readonly string[], record: MetricRecord): string {
  return csvLine(columns.map((c) => record[c]));
}

/** Parses RFC-4180 CSV text into rows of strings (quoted fields, "" escapes, CRLF or LF line ends). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let inQuotes = false;
  let any = false; // whether the current row has started
  while (i < text.length) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      inQuotes = true;
      any = true;
      i++;
    } else if (c === ',') {
      row.push(field);
      field = '';
      any = true;
      i++;
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      any = false;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      any = true;
      i++;
    }
  }
  if (inQuotes) throw new Error('CSV: unterminated quoted field');
  if (any || field !== '') {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Writes `text` to `path` via a temp file in the same directory and a rename. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
    throw e;
  }
}
