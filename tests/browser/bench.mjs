// Wasm budgets, measured in headless Debian Chromium (and Node for
// reference), never with timed unit tests. Prints a table for BENCHMARKS.md.
//
//   instantiate + compile: pages served by `shenhe serve`; init() (fetch +
//     instantiate the module, with the bundle fetched in parallel) then
//     Validator.fromBundle(NT bundle); a first visit in a new browser profile
//     and a return visit in the same profile, 7 of each.
//   validate NT: validate(obj) on the NT summary base, counting the JS ↔ wasm
//     crossing (object in, report object out). Chromium coarsens
//     performance.now(), so calls are timed in batches of 25: the figure is
//     the median over 40 batches of the per-call time, after 50 warm-up calls.
//   validate Shanxi 200 rows: the same for tests/samples/bench/shanxi-200-rows.json.
import { readFileSync, rmSync, statSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import path from "node:path";
import { OUT, ROOT, WWW, launchChromium, loadWasmInNode, startServe, wasmFile as moduleFile } from "./lib.mjs";

const RUNS = Number(process.env.RUNS ?? 1000); // calls per median (40 batches of 25)
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const nt = readFileSync(path.join(ROOT, "rules/national-medical-team/tests/base/summary.json"), "utf8");
const sx = readFileSync(path.join(ROOT, "tests/samples/bench/shanxi-200-rows.json"), "utf8");
const wasmFile = moduleFile("pkg");
const size = statSync(wasmFile).size;
const gz = gzipSync(readFileSync(wasmFile), { level: 9 }).length;
const br = brotliCompressSync(readFileSync(wasmFile), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const playgroundGz = gzipSync(readFileSync(moduleFile("playground/pkg")), { level: 9 }).length;

async function measure(v, text) {
  const obj = JSON.parse(text);
  for (let i = 0; i < 50; i++) v.validate(obj);
  const t = [];
  for (let b = 0; b < RUNS / 25; b++) { const a = performance.now(); for (let i = 0; i < 25; i++) v.validate(obj); t.push((performance.now() - a) / 25); }
  return median(t);
}

// Served by `shenhe serve`, as a portal is: brotli on the wire, the hashed
// module immutable, the rest revalidated.
const db = path.join(OUT, "bench.db");
for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
const { server, base: url } = await startServe(db);
const browser = await launchChromium();
const cold = { startup: [], instantiate: [], bundle: [], again: [] };
const warm = { startup: [], instantiate: [], bundle: [], again: [] };
let chrome;
const pageRun = async (page, RUNS) => page.evaluate(async ({ nt, sx, RUNS }) => {
  // What the portal does: the module streams in and compiles while the
  // bundle is fetched; then the bundle is compiled.
  const t0 = performance.now();
  const m = await import("/pkg/shenhe_wasm.js");
  const [bundle] = await Promise.all([fetch("/gen/bundles/national-medical-team-2024.json").then((r) => r.text()), m.default()]);
  const t1 = performance.now();
  const v = m.Validator.fromBundle(bundle);
  const startup = performance.now() - t0;
  const t2 = performance.now();
  m.Validator.fromBundle(bundle); // the same work again, with its code compiled by now
  const parts = { instantiate: t1 - t0, bundle: t2 - t1, again: performance.now() - t2 };
  if (RUNS === 0) return { startup, parts };
  // Defined here, not passed as text: the served pages' CSP forbids eval.
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const measure = (v, text) => {
    const obj = JSON.parse(text);
    for (let i = 0; i < 50; i++) v.validate(obj);
    const t = [];
    for (let b = 0; b < RUNS / 25; b++) { const a = performance.now(); for (let i = 0; i < 25; i++) v.validate(obj); t.push((performance.now() - a) / 25); }
    return median(t);
  };
  const sxv = m.Validator.fromBundle(await (await fetch("/gen/bundles/yizhen-week-2013-shanxi.json")).text());
  return { startup, parts, nt: measure(v, nt), sx: measure(sxv, sx) };
}, { nt, sx, RUNS });
const record = (into, r) => { into.startup.push(r.startup); for (const k of ["instantiate", "bundle", "again"]) into[k].push(r.parts[k]); };
for (let run = 0; run < 7; run++) {
  // A first visit (a new browser profile: empty cache), then a return visit
  // in the same profile (the module from the cache, the rest revalidated).
  const context = await browser.newContext();
  for (const into of [cold, warm]) {
    const page = await context.newPage();
    await page.goto(`${url}/playground/blank.html`);
    const r = await pageRun(page, run === 0 && into === warm ? RUNS : 0);
    record(into, r);
    if (r.nt !== undefined) chrome = r;
    await page.close();
  }
  await context.close();
}
const version = await browser.version();
await browser.close();
server.kill("SIGTERM");

const node = await loadWasmInNode();
const nv = node.Validator.fromBundle(readFileSync(path.join(WWW, "gen/bundles/national-medical-team-2024.json"), "utf8"));
const sv = node.Validator.fromBundle(readFileSync(path.join(WWW, "gen/bundles/yizhen-week-2013-shanxi.json"), "utf8"));
const nodeNt = await measure(nv, nt);
const nodeSx = await measure(sv, sx);

const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
console.log(`Chromium ${version}, Node ${process.version}; median per-call time over ${RUNS / 25} batches of 25 calls`);
console.log(`| measure | budget | Chromium | Node |`);
console.log(`|---|---|---|---|`);
console.log(`| portal module after wasm-opt -Oz | ≤ 800 KB gzipped | ${(gz / 1024).toFixed(0)} KB gzipped, ${(br / 1024).toFixed(0)} KB brotli (${(size / 1024).toFixed(0)} KB raw) | |`);
console.log(`| playground module (with fromFiles) | | ${(playgroundGz / 1024).toFixed(0)} KB gzipped | |`);
for (const [label, t] of [["first visit, empty cache", cold], ["return visit", warm]]) {
  console.log(`| instantiate + compile NT bundle, ${label} (median of 7) | ≤ 100 ms | ${median(t.startup).toFixed(1)} ms | |`);
  console.log(`|   of which: fetch + instantiate the module (bundle fetched in parallel) | | ${median(t.instantiate).toFixed(1)} ms | |`);
  console.log(`|   of which: Validator.fromBundle (parse, hash check, schema, scripts) | | ${median(t.bundle).toFixed(1)} ms | |`);
  console.log(`|   (a second fromBundle in the same page, its code compiled by then) | | ${median(t.again).toFixed(1)} ms | |`);
}
console.log(`| validate NT summary (obj → report obj) | ≤ 150 µs | ${us(chrome.nt)} | ${us(nodeNt)} |`);
console.log(`| validate Shanxi 200 rows | ≤ 2 ms | ${us(chrome.sx)} | ${us(nodeSx)} |`);
