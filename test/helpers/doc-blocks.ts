/** Fenced code blocks of a markdown file (README.md, docs/guide.md), for the tests that run the documentation. */
import { readFileSync } from 'node:fs';

export interface Block {
  /** the info string after the opening fence ('ts', 'sh', 'text', or '' for a plain block) */
  lang: string;
  code: string;
  /** 1-based line of the opening fence */
  line: number;
}

export function codeBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\w*)\s*$/.exec(lines[i]);
    if (!m) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    out.push({ lang: m[1], code: body.join('\n'), line: start + 1 });
  }
  return out;
}
