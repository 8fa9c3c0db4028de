import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MetricsLog, parseCsv, readMetrics } from '../src/report/metrics.js';
import { heatmapSvg, lineChartSvg, mergeHLines, minMaxBucketIndices } from '../src/report/plot.js';
import { saveFigure, svgToPng } from '../src/report/figures.js';
import { createProgress, formatDuration, formatField } from '../src/report/progress.js';
import { aggregateRuns, formatReportCsv, loadRun, reportWarnings, writeReport } from '../src/report/aggregate.js';
import { writeRunFigures } from '../src/report/run-figures.js';
import { UserError } from '../src/util/errors.js';
import { main } from '../src/cli/main.js';

const tmp = mkdtempSync(join(tmpdir(), 'gle-report-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Minimal XML well-formedness check: balanced tags, one root <svg>. Returns the element names seen. */
function checkXml(xml: string): string[] {
  const s = xml.trim();
  assert.ok(s.startsWith('<svg'), 'starts with <svg');
  const stack: string[] = [];
  const names: string[] = [];
  const re = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>/g;
  let last = 0;
  let roots = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const between = s.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray < or > in text near offset ${last}: ${between.slice(0, 40)}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(between), 'bad entity in text');
    last = m.index + m[0].length;
    if (m[2] === undefined) continue; // comment / CDATA
    const [, close, name, , selfClose] = m;
    if (close) {
      assert.equal(stack.pop(), name, `closing </${name}> matches`);
    } else {
      if (stack.length === 0) roots++;
      names.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  assert.equal(s.slice(last).trim(), '', 'nothing after the root element');
  assert.equal(stack.length, 0, 'all tags closed');
  assert.equal(roots, 1, 'one root element');
  return names;
}

test('MetricsLog round trip: jsonl + csv with a column added later and quoted fields', () => {
  const dir = join(tmp, 'log1');
  const log = new MetricsLog(dir);
  log.append({ kind: 'train', step: 1, t: 0.001, loss: 0.5, lr: 1e-3 });
  log.append({ kind: 'train', step: 2, t: 0.002, loss: NaN, lr: 1e-3 });
  log.append({ kind: 'eval', epoch: 1, split: 'test', acc: 0.9, loss: 0.3 });
  log.append({ kind: 'train', step: 3, t: 0.003, loss: 0.25, lr: 1e-3, note: 'a, "quoted"\nvalue', ok: true });
  // written immediately: visible before close
  assert.equal(readMetrics(dir).length, 4);
  log.close();
  log.close(); // idempotent
  assert.throws(() => log.append({ kind: 'train' }));

  const recs = readMetrics(dir);
  assert.equal(recs.length, 4);
  assert.deepEqual(recs[0], { kind: 'train', step: 1, t: 0.001, loss: 0.5, lr: 1e-3 });
  assert.equal(recs[1]!.loss, null); // NaN -> null in JSON
  assert.deepEqual(recs[2], { kind: 'eval', epoch: 1, split: 'test', acc: 0.9, loss: 0.3 });
  assert.equal(recs[3]!.note, 'a, "quoted"\nvalue');

  const rows = parseCsv(readFileSync(join(dir, 'metrics.csv'), 'utf8'));
  assert.deepEqual(rows[0], ['kind', 'step', 't', 'loss', 'lr', 'epoch', 'split', 'acc', 'note', 'ok']);
  assert.equal(rows.length, 5);
  for (const r of rows) assert.equal(r.length, rows[0]!.length, 'rectangular');
  const col = (name: string, i: number): string => rows[i]![rows[0]!.indexOf(name)]!;
  assert.equal(col('loss', 1), '0.5');
  assert.equal(col('loss', 2), 'NaN');
  assert.equal(col('acc', 3), '0.9');
  assert.equal(col('step', 3), '');
  assert.equal(col('note', 4), 'a, "quoted"\nvalue');
  assert.equal(col('ok', 4), 'true');
  assert.equal(Number(col('lr', 4)), 1e-3);
  assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temp files left');

  // resume: appends after the existing records, tolerating a cut-off last line
  writeFileSync(join(dir, 'metrics.jsonl'), readFileSync(join(dir, 'metrics.jsonl'), 'utf8') + '{"kind":"tr');
  const log2 = new MetricsLog(dir, { resume: true });
  assert.equal(log2.length, 4);
  log2.append({ kind: 'train', step: 4, t: 0.004, loss: 0.1, lr: 1e-3 });
  log2.close();
  assert.equal(readMetrics(dir).length, 5);
  assert.equal(parseCsv(readFileSync(join(dir, 'metrics.csv'), 'utf8')).length, 6);
});

test('readMetrics: bad line in the middle is a UserError naming file and line', () => {
  const dir = join(tmp, 'badlog');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'metrics.jsonl'), '{"kind":"train"}\nnot json\n{"kind":"train"}\n');
  assert.throws(() => readMetrics(dir), (e: unknown) => e instanceof UserError && /metrics\.jsonl:2/.test(e.message));
});

test('lineChartSvg: well-formed SVG with a path per series, legend, band and hline', async () => {
  const x = [0, 1, 2, 3, 4];
  const svg = await lineChartSvg({
    title: 'T',
    xLabel: 'epoch',
    yLabel: 'acc',
    series: [
      { name: 'alpha', x, y: [0.1, 0.5, 0.7, 0.8, 0.85], lo: [0, 0.4, 0.6, 0.7, 0.8], hi: [0.2, 0.6, 0.8, 0.9, 0.9] },
      { name: 'beta & <gamma>', x, y: [0.2, 0.3, 0.4, 0.5, 0.6], dash: true },
    ],
    hlines: [{ y: 0.9, label: 'paper' }],
  });
  const names = checkXml(svg);
  assert.ok(names.includes('path'));
  assert.ok(svg.includes('role-legend'), 'has a legend');
  assert.ok(svg.includes('alpha') && svg.includes('beta &amp; &lt;gamma&gt;'), 'legend labels');
  assert.ok(svg.includes('paper'), 'hline label');
  const linePaths = svg.match(/<path [^>]*aria-roledescription="line mark" d="M[^"]+"/g) ?? [];
  assert.equal(linePaths.length, 2, 'one line path per series');
  assert.ok(linePaths.some((p) => p.includes('s: alpha')) && linePaths.some((p) => p.includes('s: beta')));
  assert.ok(svg.includes('mark-area'), 'band area');
});

test('lineChartSvg: log axes with zeros, negatives and NaN do not crash', async () => {
  const svg = await lineChartSvg({
    title: 'log',
    logY: true,
    logX: true,
    series: [{ name: 's', x: [0, 1, 2, 3, 4], y: [1, 0, -1, NaN, 0.01], lo: [0, 0, 0, 0, 0], hi: [2, 2, 2, 2, 2] }],
    hlines: [{ y: 0, label: 'zero' }],
  });
  checkXml(svg);
  const empty = await lineChartSvg({ title: 'none', logY: true, series: [{ name: 's', x: [1, 2], y: [0, 0] }] });
  checkXml(empty);
});

test('downsampling keeps the extremes and bounds the size', async () => {
  const n = 100_000;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.sin(i / 100);
  y[54321] = 7;
  y[12345] = -7;
  const idx = minMaxBucketIndices(y, 4000);
  assert.ok(idx.length <= 4000 && idx.length > 1000);
  assert.ok(idx.includes(54321) && idx.includes(12345) && idx[0] === 0 && idx[idx.length - 1] === n - 1);
  for (let k = 1; k < idx.length; k++) assert.ok(idx[k]! > idx[k - 1]!);
  const x = Float64Array.from({ length: n }, (_, i) => i);
  // load-independent timing: the 100k-point chart against a 4,000-point one rendered just before (same machine, same load)
  const xs = Float64Array.from({ length: 4000 }, (_, i) => i);
  await lineChartSvg({ title: 'warm-up', series: [{ name: 'y', x: xs, y: y.subarray(0, 4000) }] });
  const tb = performance.now();
  await lineChartSvg({ title: 'short', series: [{ name: 'y', x: xs, y: y.subarray(0, 4000) }] });
  const baseMs = performance.now() - tb;
  const t0 = performance.now();
  const svg = await lineChartSvg({ title: 'long', series: [{ name: 'y', x, y }] });
  const ms = performance.now() - t0;
  checkXml(svg);
  assert.ok(svg.length < 400_000, `svg size ${svg.length}`);
  assert.ok(ms < 5 * baseMs + 100, `render of 100k points took ${ms.toFixed(0)} ms vs ${baseMs.toFixed(0)} ms for 4,000`);
});

test('heatmapSvg + svgToPng + saveFigure: PNG signature, files written atomically', async () => {
  const cm = [
    [5, 1, 0],
    [0, 6, 2],
    [1, 0, 7],
  ];
  const svg = await heatmapSvg({ title: 'confusion', matrix: cm, rowLabels: ['a', 'b', 'c'], colLabels: ['a', 'b', 'c'] });
  checkXml(svg);
  const png = svgToPng(svg);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dir = join(tmp, 'figs');
  const p = saveFigure(dir, 'cm', svg);
  assert.equal(readFileSync(p.svg, 'utf8'), svg);
  assert.equal(readFileSync(p.png)[1], 0x50);
  assert.deepEqual(readdirSync(dir).sort(), ['cm.png', 'cm.svg']);
});

function collect(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => buf };
}

test('progress: plain lines in non-TTY mode, throttled by time', () => {
  const out = collect();
  let clock = 0;
  const p = createProgress({ total: 405000, label: 'lagline', stream: out.stream, everyS: 10, checkEvery: 100, now: () => clock });
  for (let i = 1; i <= 405000; i++) {
    clock = i / 14.2; // 14,200 steps/s in ms
    p.update(i, { loss: 1.2e-5 });
  }
  p.stop();
  const lines = out.text().trim().split('\n');
  // 405000 steps at 14.2k/s = 28.5 s -> lines at ~10 s and ~20 s, plus the final line
  assert.equal(lines.length, 3, out.text());
  assert.match(lines[0]!, /^lagline: 14\d{4}\/405000 steps \(3\d\.\d%\) 14,200 steps\/s ETA 1\ds loss=1\.2e-5$/);
  assert.match(lines[2]!, /^lagline: done 405000\/405000 steps in 29s \(14,200 steps\/s\) loss=1\.2e-5$/);
  assert.equal(formatDuration(119.7), '2m00s');
  assert.equal(formatField(0.5), '0.5');
  assert.equal(formatField(12), '12');
  const off = collect();
  const q = createProgress({ total: 10, label: 'x', stream: off.stream, mode: 'off' });
  q.update(10);
  q.stop();
  assert.equal(off.text(), '');
});

function fakeRun(name: string, experiment: string, seed: number, accs: number[], final?: Record<string, number>, quick = true): string {
  const dir = join(tmp, 'runs', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ experiment, seed, quick }));
  const log = new MetricsLog(dir);
  accs.forEach((acc, i) => {
    log.append({ kind: 'train', step: (i + 1) * 100, t: i, loss: 1 / (i + 1), lr: 0.01 });
    log.append({ kind: 'eval', epoch: i + 1, split: 'val', acc: acc - 0.01, loss: 1 });
    log.append({ kind: 'eval', epoch: i + 1, split: 'test', acc, loss: 1 });
  });
  log.close();
  if (final) writeFileSync(join(dir, 'summary.json'), JSON.stringify({ experiment, seed, final, wall_s: 1, steps: 300 }));
  return dir;
}

test('aggregate: mean/std (ddof=0) over 3 fake runs, report files, CLI and errors', async () => {
  const a = fakeRun('m1d-s0', 'mnist1d', 0, [0.5, 0.7, 0.8], { test_acc: 0.8 });
  const b = fakeRun('m1d-s1', 'mnist1d', 1, [0.55, 0.75, 0.9]); // no summary: last test eval
  const c = fakeRun('m1d-s2', 'mnist1d', 2, [0.6, 0.8, 0.85], { acc: 0.85 });
  const other = fakeRun('ll-s0', 'lagline', 7, [0.1, 0.2]);
  const groups = aggregateRuns([c, a, b, other]);
  assert.equal(groups.length, 2);
  const g = groups[0]!;
  assert.equal(g.experiment, 'mnist1d');
  assert.deepEqual(
    g.results.map((r) => r.run.seed),
    [0, 1, 2],
  );
  assert.deepEqual(
    g.results.map((r) => r.final),
    [0.8, 0.9, 0.85],
  );
  const mean = (0.8 + 0.9 + 0.85) / 3;
  const std = Math.sqrt(((0.8 - mean) ** 2 + (0.9 - mean) ** 2 + (0.85 - mean) ** 2) / 3);
  assert.ok(Math.abs(g.stats.mean - mean) < 1e-12);
  assert.ok(Math.abs(g.stats.std - std) < 1e-12);
  assert.equal(g.stats.min, 0.8);
  assert.equal(g.stats.max, 0.9);
  assert.deepEqual(g.results[1]!.curve, { xLabel: 'epoch', x: [1, 2, 3], y: [0.55, 0.75, 0.9] });
  assert.equal(aggregateRuns([a], 'acc', 'val')[0]!.results[0]!.final, 0.8 - 0.01 + 0); // val: last val eval
  assert.ok(formatReportCsv(groups).includes('mnist1d,acc,test,mean,,'));

  const out = join(tmp, 'report');
  const rep = await writeReport([a, b, c], out);
  assert.match(rep.table, /85\.00 ± 4\.08/);
  for (const f of ['report.md', 'report.csv', 'curve-mnist1d-test-acc.svg', 'curve-mnist1d-test-acc.png']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  checkXml(readFileSync(join(out, 'curve-mnist1d-test-acc.svg'), 'utf8'));
  const csv = parseCsv(readFileSync(join(out, 'report.csv'), 'utf8'));
  assert.equal(csv.length, 1 + 3 + 4);
  assert.ok(readFileSync(join(out, 'report.md'), 'utf8').includes('| 2 | 85.00 | summary.json |'));

  // errors: not a run dir, missing metric
  const notRun = join(tmp, 'notrun');
  mkdirSync(notRun, { recursive: true });
  writeFileSync(join(notRun, 'config.json'), '{}');
  assert.throws(() => loadRun(notRun), (e: unknown) => e instanceof UserError && /missing metrics\.jsonl/.test(e.message));
  assert.throws(() => loadRun(join(tmp, 'nope')), (e: unknown) => e instanceof UserError && /no such directory/.test(e.message));
  assert.throws(
    () => aggregateRuns([a], 'f1'),
    (e: unknown) => e instanceof UserError && /no "f1" for split "test"/.test(e.message) && /eval splits in metrics\.jsonl: val, test/.test(e.message),
  );

  // CLI
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  let printed = '';
  process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((printed += s), true)) as typeof process.stderr.write;
  let rc: number;
  let rcBad: number;
  try {
    rc = await main(['report', a, b, c, '--out', join(tmp, 'report-cli'), '--no-figures']);
    rcBad = await main(['report', notRun, '--out', join(tmp, 'report-bad')]);
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
  assert.equal(rc, process.exitCode ?? 0, printed); // main() returns process.exitCode, which the runner may set
  assert.match(printed, /mnist1d \(3 runs\)/);
  assert.match(printed, /test acc \[%\]: 85\.00 ± 4\.08/);
  assert.ok(existsSync(join(tmp, 'report-cli', 'report.md')));
  assert.ok(!existsSync(join(tmp, 'report-cli', 'curve-mnist1d-test-acc.svg')));
  assert.equal(rcBad, 2);

  // per-run figures
  const figs = await writeRunFigures(a, { title: 'm1d-s0' });
  assert.deepEqual(
    figs.map((f) => f.slice(a.length + 1)).sort(),
    ['figures/eval-acc.png', 'figures/eval-acc.svg', 'figures/eval-loss.png', 'figures/eval-loss.svg', 'figures/loss.png', 'figures/loss.svg'],
  );
  checkXml(readFileSync(join(a, 'figures', 'loss.svg'), 'utf8'));
  assert.match(printed, /gle: error: .*notrun: not a run directory \(missing metrics\.jsonl\)/);
});

test('gle report warns when quick and full runs, the same seed twice, or one directory twice are averaged', async () => {
  const q = fakeRun('w-q0', 'lagnet', 0, [0.5], { test_acc: 0.5 });
  const f0 = fakeRun('w-f0', 'lagnet', 0, [0.9], { test_acc: 0.9 }, false);
  const f1 = fakeRun('w-f1', 'lagnet', 1, [0.8], { test_acc: 0.8 }, false);
  const w = reportWarnings(aggregateRuns([q, f0, f1]));
  assert.equal(w.length, 2, w.join('\n'));
  assert.match(w[0]!, /lagnet: seed 0 appears in 2 runs/);
  assert.match(w[1]!, /--quick runs \(.*w-q0\) mixed with full runs/);
  assert.match(reportWarnings(aggregateRuns([f1, f1]))[0]!, /w-f1 is given 2 times/);
  assert.deepEqual(reportWarnings(aggregateRuns([f0, f1])), []);
  const out = join(tmp, 'rep-warn');
  const r = await writeReport([q, f0], out, { figures: false });
  assert.equal(r.warnings.length, 2);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /## Warnings\n\n- lagnet: seed 0/);
});

test('figures: dash patterns in the legend, one label per reference line, integer epoch ticks once, points-only mode', async () => {
  const svg = await lineChartSvg({ xLabel: 'epoch', xInteger: true, series: [{ name: 'a', x: [0, 1, 2], y: [1, 2, 3] }, { name: 'b', x: [1], y: [2], dash: true }] });
  // the dashed series is drawn dashed and its legend symbol is dashed too (a line and a legend entry)
  assert.ok((svg.match(/stroke-dasharray="6,4"/g) ?? []).length >= 2, 'dashed legend symbol');
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(texts.slice(0, 3), ['0', '1', '2']);
  assert.equal(texts.filter((t) => t === '1').length, 1, `epoch ticks: ${texts.join('|')}`);
  assert.deepEqual(mergeHLines([{ y: 1, label: 'teacher w' }, { y: 2, label: 'teacher v' }, { y: 1, label: 'teacher tau' }]).map((h) => [h.y, h.label]), [[1, 'teacher w, teacher tau'], [2, 'teacher v']]);
  const pts = await lineChartSvg({ points: true, series: [{ name: 'phase', x: [0, 1, 2], y: [10, -170, 170] }] });
  assert.ok(pts.includes('mark-symbol') && !pts.includes('mark-line'), 'points only: no line joins -170 and 170');
});
