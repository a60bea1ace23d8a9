// Compares what the tern CLI printed with --json against what an Efento black-box test
// expects, keeping number literals as written so that the stored type shows (42 is an
// integer, 42.0 a double):
//   node stored.mjs records FILE 'EXPECTED' [OPTIONAL_KEYS]
//       FILE: `tern telemetry NAME --since 0 --asc --json`, {"key":[{"ts":…,"value":…},…],…};
//       EXPECTED: the records by time, {"TS_MS":{"key":value,…},…}: exactly these records
//       with exactly these keys and values. OPTIONAL_KEYS (comma-separated) may be stored or
//       not, at any time, with any value.
//   node stored.mjs latest FILE 'EXPECTED' TS_MIN TS_MAX [ABSENT_KEYS]
//       FILE: `tern telemetry NAME --latest --json`; with ABSENT_KEYS absent (may be
//       empty): exactly the keys of EXPECTED with these values; with ABSENT_KEYS given: at
//       least them, and none of ABSENT_KEYS. Every ts of EXPECTED's keys in [TS_MIN, TS_MAX].
//   node stored.mjs client FILE 'EXPECTED' [ABSENT_KEYS]
//       FILE: `tern attr get NAME --scope client --json`; the client attributes are exactly
//       EXPECTED, or (ABSENT_KEYS given) include EXPECTED and none of ABSENT_KEYS.
// Exit 0 when equal; otherwise the differences are printed and the exit status is 1.
import { readFileSync } from 'node:fs';
import { parseJson, deepEq, rawText } from '../../../../tests/device_api/lib/dapi.mjs';

const [mode, file, expectedText, ...rest] = process.argv.slice(2);
const text = readFileSync(file, 'utf8').trim();
const expected = parseJson(expectedText);
const list = (s) => (s ? s.split(',').filter((k) => k !== '') : []);
const problems = [];
const show = (v) => (v === undefined ? '(absent)' : rawText(v));

// compare(actual, expected, where, optional, subset): key by key, every difference a line.
function compare(actual, exp, where, optional = new Set(), subset = false) {
    const keys = new Set([...Object.keys(exp), ...(subset ? [] : Object.keys(actual))]);
    for (const k of [...keys].sort()) {
        if (optional.has(k)) continue;
        if (!deepEq(actual[k], exp[k])) problems.push(`${where}${k}: expected ${show(exp[k])}, stored ${show(actual[k])}`);
    }
}

try {
    const j = parseJson(text);
    if (mode === 'records') {
        const optional = new Set(list(rest[0]));
        const actual = {};
        for (const [k, points] of Object.entries(j ?? {})) {
            if (optional.has(k)) continue;
            for (const p of points) {
                const ts = String(p.ts.text ?? p.ts);
                (actual[ts] ??= {})[k] = p.value;
            }
        }
        const times = new Set([...Object.keys(expected), ...Object.keys(actual)]);
        for (const ts of [...times].sort()) {
            if (!actual[ts]) problems.push(`record ${ts}: expected ${rawText(expected[ts])}, nothing stored at that time`);
            else if (!expected[ts]) problems.push(`record ${ts}: not expected, stored ${rawText(actual[ts])}`);
            else compare(actual[ts], expected[ts], `record ${ts}: `, optional);
        }
    } else if (mode === 'latest') {
        const [tsMin, tsMax, absentText] = rest;
        const lo = Number(tsMin), hi = Number(tsMax);
        const actual = {};
        for (const [k, v] of Object.entries(j ?? {})) {
            actual[k] = v.value;
            const ts = Number(v.ts.text ?? v.ts);
            if (k in expected && !(ts >= lo && ts <= hi)) problems.push(`${k}: ts ${ts} not in [${lo}, ${hi}]`);
        }
        const absent = list(absentText);
        compare(actual, expected, '', new Set(), absentText !== undefined);
        for (const k of absent) if (k in actual) problems.push(`${k}: expected absent, stored ${show(actual[k])}`);
    } else if (mode === 'client') {
        const [absentText] = rest;
        const actual = {};
        for (const a of j?.client ?? []) actual[a.key] = a.value;
        compare(actual, expected, '', new Set(), absentText !== undefined);
        for (const k of list(absentText)) if (k in actual) problems.push(`${k}: expected absent, stored ${show(actual[k])}`);
    } else {
        throw new Error(`unknown mode ${mode}`);
    }
} catch (e) {
    problems.push(`cannot read ${file}: ${e.message}: ${text.slice(0, 500)}`);
}
if (problems.length) {
    for (const p of problems) console.log(p);
    process.exit(1);
}
