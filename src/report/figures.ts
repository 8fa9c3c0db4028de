/**
 * Figure files (Node only): SVG -> PNG with @resvg/resvg-js, and writing `name.svg` + `name.png` atomically.
 *
 * Fonts: the system fonts are loaded when any are found in the usual directories (DejaVu Sans preferred, as the
 * charts ask for it first); otherwise resvg's defaults are used (text may then be missing from the PNG, the SVG is
 * unaffected).
 */
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from './metrics.js';

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', '/Library/Fonts', '/System/Library/Fonts', 'C:\\Windows\\Fonts'];

let fontFilesCache: string[] | undefined;

/** A few font files to give resvg: DejaVu Sans (regular + bold) when present, else the first .ttf/.otf found. */
function findFontFiles(): string[] {
  if (fontFilesCache) return fontFilesCache;
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 4 || found.length > 400) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (/\.(ttf|otf)$/i.test(e.name)) found.push(p);
    }
  };
  for (const d of FONT_DIRS) if (existsSync(d)) walk(d, 0);
  const preferred = found.filter((p) => /DejaVuSans(-Bold)?\.ttf$/.test(p));
  fontFilesCache = preferred.length ? preferred : found.slice(0, 8);
  return fontFilesCache;
}

export interface PngOptions {
  /** Scale factor (default 2: crisp on high-dpi screens and in papers). */
  scale?: number;
}

/** Renders an SVG string to PNG bytes. */
export function svgToPng(svg: string, opts: PngOptions = {}): Uint8Array {
  const files = findFontFiles();
  const font: ResvgRenderOptions['font'] = files.length
    ? { loadSystemFonts: false, fontFiles: files, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' }
    : { loadSystemFonts: true };
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: opts.scale ?? 2 },
    font,
  });
  const png = resvg.render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * Writes `dir/name.svg` and `dir/name.png` (each via temp file + rename), creating `dir` if needed.
 * Returns the two paths.
 */
export function saveFigure(dir: string, name: string, svg: string, opts: PngOptions = {}): { svg: string; png: string } {
  mkdirSync(dir, { recursive: true });
  const base = name.replace(/\.(svg|png)$/i, '');
  const svgPath = join(dir, `${base}.svg`);
  const pngPath = join(dir, `${base}.png`);
  const png = svgToPng(svg, opts);
  writeAtomic(svgPath, svg);
  writeAtomic(pngPath, png);
  return { svg: svgPath, png: pngPath };
}
