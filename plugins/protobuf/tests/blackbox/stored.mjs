// Compares what the tern CLI printed with --json against what a test expects, keeping number
// literals as written so that the stored type shows (42 is an integer, 42.0 a double):
//   node stored.mjs latest FILE 'EXPECTED' TS_MIN [TS_MAX]
//       FILE: `tern telemetry NAME --latest --json`, {"key":{"ts":…,"value":…},…}; EXPECTED:
//       {"key":value,…}, exactly these keys with these values (and types), every ts in
//       [TS_MIN, TS_MAX] (TS_MAX defaults to TS_MIN: the client's timestamp)
//   node stored.mjs client FILE 'EXPECTED'
//       FILE: `tern attr get NAME --scope client --json`; the client attributes are exactly
//       EXPECTED
//   node stored.mjs json FILE 'EXPECTED'
//       FILE holds one JSON value equal to EXPECTED
// Exit 0 when equal; otherwise both sides are printed and the exit status is 1.
import { readFileSync } from 'node:fs';
import { parseJson, deepEq, rawText } from '../../../../tests/device_api/lib/dapi.mjs';

const [mode, file, expectedText, tsMin, tsMax] = process.argv.slice(2);
const text = readFileSync(file, 'utf8').trim();
const expected = parseJson(expectedText);
let actual;
let problems = [];
try {
    const j = parseJson(text);
    if (mode === 'latest') {
        actual = {};
        const lo = Number(tsMin), hi = Number(tsMax ?? tsMin);
        for (const [k, v] of Object.entries(j ?? {})) {
            actual[k] = v.value;
            const ts = Number(v.ts.text ?? v.ts);
            if (!(ts >= lo && ts <= hi)) problems.push(`${k}: ts ${ts} not in [${lo}, ${hi}]`);
        }
    } else if (mode === 'client') {
        actual = {};
        for (const a of j?.client ?? []) actual[a.key] = a.value;
    } else if (mode === 'json') {
        actual = j;
    } else {
        throw new Error(`unknown mode ${mode}`);
    }
} catch (e) {
    problems.push(`cannot read ${file}: ${e.message}: ${text.slice(0, 500)}`);
}
if (actual !== undefined && !deepEq(actual, expected)) {
    const keys = new Set([...Object.keys(expected ?? {}), ...Object.keys(actual ?? {})]);
    if (mode !== 'json' && typeof expected === 'object')
        for (const k of [...keys].sort()) {
            const a = actual?.[k], e = expected?.[k];
            if (!deepEq(a, e)) problems.push(`${k}: expected ${e === undefined ? '(absent)' : rawText(e)}, stored ${a === undefined ? '(absent)' : rawText(a)}`);
        }
    problems.push(`expected: ${rawText(expected)}`, `actual:   ${rawText(actual)}`);
}
if (problems.length) {
    for (const p of problems) console.log(p);
    process.exit(1);
}
