// Size limits of the code a reader has to hold in their head: no source file in a plugin's
// src/ over MAX_FILE lines, and no function over MAX_FUNCTION lines in plugins/*/src, kernel/,
// libs/ and sdk/include (tests and tools aside). A file or function past the limit is split by
// what it does, not by line count: the limit only says when to look. (Benchmarks, fuzzers and
// tests are left out.)
//
// usage: node sizes.mjs [repository root]     (default: two folders up from this script)
// Prints file:line: what is too long, for every offender; exit 1 when there is one.
//
// Functions are found without a compiler: comments, string and character literals are blanked,
// then every '{' is classified by the text in front of it. Braces of namespaces, classes,
// structs, unions, enums and extern "C" are scopes; a '{' at scope level whose text has a '('
// and does not end in '=' opens a function (constructor initializer lists and trailing return
// types included); everything inside a function belongs to it.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_FILE = 600;
const MAX_FUNCTION = 120;

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function walk(dir, out) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    const s = statSync(p);
    if (s.isDirectory()) {
      if (['tests', 'bench', 'fuzz', 'frozen', 'build', 'node_modules'].includes(n) || n.startsWith('.')) continue;
      walk(p, out);
    } else if (/\.(cpp|hpp|h|cc)$/.test(n)) {
      out.push(p);
    }
  }
  return out;
}

// Blanks comments, literals and preprocessor lines, keeping every newline so line numbers hold.
export function blank(text) {
  text = text.replace(/^[ \t]*#(?:[^\n]*\\\n)*[^\n]*/gm, (m) => m.replace(/[^\n]/g, ' '));
  let out = '';
  let i = 0;
  const n = text.length;
  const keepNewlines = (s) => s.replace(/[^\n]/g, ' ');
  while (i < n) {
    const c = text[i];
    const d = text[i + 1];
    if (c === '/' && d === '/') {
      let j = text.indexOf('\n', i);
      if (j < 0) j = n;
      out += ' '.repeat(j - i);
      i = j;
    } else if (c === '/' && d === '*') {
      let j = text.indexOf('*/', i + 2);
      j = j < 0 ? n : j + 2;
      out += keepNewlines(text.slice(i, j));
      i = j;
    } else if (c === 'R' && d === '"' && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
      const open = text.indexOf('(', i + 2);
      const delim = text.slice(i + 2, open);
      const close = text.indexOf(')' + delim + '"', open);
      const j = close < 0 ? n : close + delim.length + 2;
      out += keepNewlines(text.slice(i, j));
      i = j;
    } else if (c === '"' || (c === '\'' && !/[0-9A-Fa-f]/.test(text[i - 1] ?? ''))) {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      j = Math.min(n, j + 1);
      out += keepNewlines(text.slice(i, j));
      i = j;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

export function functions(text) {
  const src = blank(text);
  const found = [];
  const stack = []; // 'scope' | 'function' | 'other'
  let line = 1;
  let header = '';
  let start = null; // { name, line, depth }
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\n') line++;
    if (c === '{') {
      const inFunction = stack.includes('function');
      let kind = 'other';
      const h = header.replace(/\s+/g, ' ').trim();
      if (!inFunction) {
        if (/(^|\W)(namespace|class|struct|union|enum)(\W|$)/.test(h) && !/\(/.test(h.split(/\b(?:namespace|class|struct|union|enum)\b/)[0])) kind = 'scope';
        else if (/^extern\s*$/.test(h) || h === 'extern') kind = 'scope';
        else if (stack.every((k) => k === 'scope') && h.includes('(') && !/=\s*$/.test(h)) kind = 'function';
      }
      if (kind === 'function') {
        const m = h.slice(0, h.indexOf('(')).match(/([A-Za-z_~][\w:~<>]*(?:operator\s*\S+)?)\s*$/);
        start = { name: m ? m[1] : h.slice(0, 40), line, depth: stack.length };
      }
      stack.push(kind);
      header = '';
    } else if (c === '}') {
      const kind = stack.pop();
      if (kind === 'function' && start && stack.length === start.depth) {
        found.push({ name: start.name, line: start.line, lines: line - start.line + 1 });
        start = null;
      }
      header = '';
    } else if (c === ';') {
      header = '';
    } else {
      header += c;
    }
  }
  return found;
}

function main() {
  const offenders = [];
  const dirs = ['plugins', 'kernel', 'libs', 'sdk/include'];
  for (const d of dirs) {
    for (const file of walk(join(root, d), [])) {
      const rel = relative(root, file);
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      if (/^plugins\/[^/]+\/src\//.test(rel) && lines > MAX_FILE)
        offenders.push(`${rel}:1: ${lines} lines (at most ${MAX_FILE} in a plugin's src/): split it by what it does`);
      for (const f of functions(text)) {
        if (f.lines > MAX_FUNCTION)
          offenders.push(`${rel}:${f.line}: function ${f.name} has ${f.lines} lines (at most ${MAX_FUNCTION}): split it into named steps`);
      }
    }
  }
  for (const o of offenders) console.log(o);
  if (offenders.length) {
    console.log(`${offenders.length} over the size limits`);
    process.exit(1);
  }
  console.log('sizes: every plugin source file and every function within the limits');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
