/**
 * Progress display for long loops (Node only).
 *
 * `createProgress({ total, label })` returns `{ update(done, fields?), stop() }`. `update` is cheap enough to call
 * every step: it only looks at the clock every `checkEvery` calls (default 64) and draws at most every `ttyEveryS`
 * seconds (TTY) or every `everyS` seconds (plain).
 *
 * - On a TTY (`stream.isTTY`): a cli-progress bar with percentage, count, rate, ETA and the fields.
 * - Otherwise: a plain log line at most every `everyS` seconds (default 10, or env `GLE_LOG_EVERY_S`), e.g.
 *   `lagline: 120000/405000 steps (29.6%) 14,200 steps/s ETA 20s loss=1.2e-5`, and a final line on `stop()`.
 * - `mode: 'off'` (or env `GLE_PROGRESS=off`) prints nothing; `GLE_PROGRESS=plain|tty` forces a mode.
 *
 * Rate is measured over the interval since the previous draw (falls back to the overall rate), ETA from that rate.
 */
import cliProgress from 'cli-progress';

export type ProgressFields = Record<string, number | string>;

export interface Progress {
  update(done: number, fields?: ProgressFields): void;
  /** Draws the final state (a summary line in plain mode) and releases the terminal. Idempotent. */
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  label: string;
  unit?: string;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** 'auto' (default): bar on a TTY, plain lines otherwise. */
  mode?: 'auto' | 'tty' | 'plain' | 'off';
  /** Plain mode: seconds between lines (default env GLE_LOG_EVERY_S or 10). */
  everyS?: number;
  /** TTY mode: seconds between redraws (default 0.2). */
  ttyEveryS?: number;
  /** Look at the clock every this many update() calls (default 64). */
  checkEvery?: number;
  /** Clock in ms (tests). Default performance.now. */
  now?: () => number;
}

/** 14200 -> "14,200"; 3.25 -> "3.25"; 0.031 -> "0.031". */
export function formatRate(r: number): string {
  if (!Number.isFinite(r)) return '-';
  if (r >= 100) return Math.round(r).toLocaleString('en-US');
  if (r >= 1) return r.toFixed(1);
  return r.toPrecision(2);
}

/** Compact number for fields: integers as-is, 1.2e-5, 0.0123, 1.234. */
export function formatField(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** Seconds -> "20s", "3m05s", "1h02m". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 59.5) return `${Math.round(s)}s`;
  s = Math.round(s);
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
  }
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.floor((s - 3600 * h) / 60)).padStart(2, '0')}m`;
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function fieldsText(fields: ProgressFields | undefined): string {
  if (!fields) return '';
  let s = '';
  for (const k of Object.keys(fields)) s += ` ${k}=${formatField(fields[k]!)}`;
  return s;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const unit = opts.unit ?? 'steps';
  const total = Math.max(0, opts.total);
  const now = opts.now ?? (() => performance.now());
  const envMode = process.env.GLE_PROGRESS;
  let mode = opts.mode ?? (envMode === 'off' || envMode === 'plain' || envMode === 'tty' ? envMode : 'auto');
  if (mode === 'auto') mode = stream.isTTY ? 'tty' : 'plain';
  if (mode === 'off') return { update() {}, stop() {} };

  const everyMs = 1000 * (opts.everyS ?? envNumber('GLE_LOG_EVERY_S') ?? 10);
  const ttyEveryMs = 1000 * (opts.ttyEveryS ?? 0.2);
  const checkEvery = Math.max(1, Math.floor(opts.checkEvery ?? 64));
  const t0 = now();
  let calls = 0;
  let lastDraw = t0;
  let lastDone = 0;
  let done = 0;
  let fields: ProgressFields | undefined;
  let stopped = false;

  const status = (t: number): { rate: number; eta: string; pct: string } => {
    const dt = (t - lastDraw) / 1000;
    const all = (t - t0) / 1000;
    let rate = dt > 0 && done > lastDone ? (done - lastDone) / dt : all > 0 ? done / all : NaN;
    if (!Number.isFinite(rate)) rate = NaN;
    const left = total - done;
    const eta = left <= 0 ? '0s' : rate > 0 ? formatDuration(left / rate) : '?';
    const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '-';
    return { rate, eta, pct };
  };

  if (mode === 'tty') {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {percentage}% {value}/{total} ${unit} {rateText} ${unit}/s ETA {etaText}{fieldsText}`,
        stream: stream as NodeJS.WriteStream,
        hideCursor: true,
        clearOnComplete: false,
        barsize: 24,
        fps: 20, // its own throttle (2 frames) must stay below ttyEveryS so each of our draws shows
        etaBuffer: 50,
        forceRedraw: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rateText: '-', etaText: '?', fieldsText: '' });
    const draw = (t: number): void => {
      const st = status(t);
      bar.update(done, { rateText: formatRate(st.rate), etaText: st.eta, fieldsText: fieldsText(fields) });
      lastDraw = t;
      lastDone = done;
    };
    return {
      update(d, f) {
        done = d;
        if (f) fields = f;
        if (++calls % checkEvery !== 0 && d < total) return;
        const t = now();
        if (t - lastDraw >= ttyEveryMs || d >= total) draw(t);
      },
      stop() {
        if (stopped) return;
        stopped = true;
        const t = now();
        const all = (t - t0) / 1000;
        bar.update(done, {
          rateText: formatRate(all > 0 ? done / all : NaN),
          etaText: `0s (took ${formatDuration(all)})`,
          fieldsText: fieldsText(fields),
        });
        bar.stop();
      },
    };
  }

  // plain mode
  const write = (s: string): void => {
    stream.write(s + '\n');
  };
  return {
    update(d, f) {
      done = d;
      if (f) fields = f;
      if (++calls % checkEvery !== 0) return;
      const t = now();
      if (t - lastDraw < everyMs) return;
      const st = status(t);
      write(
        `${opts.label}: ${done}/${total} ${unit} (${st.pct}%) ${formatRate(st.rate)} ${unit}/s ETA ${st.eta}${fieldsText(fields)}`,
      );
      lastDraw = t;
      lastDone = done;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      const all = (now() - t0) / 1000;
      write(
        `${opts.label}: done ${done}/${total} ${unit} in ${formatDuration(all)} (${formatRate(all > 0 ? done / all : NaN)} ${unit}/s)${fieldsText(fields)}`,
      );
    },
  };
}
