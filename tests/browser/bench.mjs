// Wasm budgets, measured in headless Debian Chromium (and Node for
// reference), never with timed unit tests. Prints a table for BENCHMARKS.md.
//
//   instantiate + compile: a fresh page each run; init() (fetch +
//     instantiate the module) then Validator.fromBundle(NT bundle).
//   validate NT: validate(obj) on the NT summary base, counting the JS ↔ wasm
//     crossing (object in, report object out). Chromium coarsens
//     performance.now(), so calls are timed in batches of 25: the figure is
//     the median over 40 batches of the per-call time, after 50 warm-up calls.
//   validate Shanxi 200 rows: the same for tests/samples/bench/shanxi-200-rows.json.
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { ROOT, WWW, launchChromium, loadWasmInNode, serveStatic } from "./lib.mjs";

const RUNS = Number(process.env.RUNS ?? 1000); // calls per median (40 batches of 25)
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const nt = readFileSync(path.join(ROOT, "rules/national-medical-team-2024/tests/base/summary.json"), "utf8");
const sx = readFileSync(path.join(ROOT, "tests/samples/bench/shanxi-200-rows.json"), "utf8");
const wasmFile = path.join(WWW, "pkg/shenhe_wasm_bg.wasm");
const size = statSync(wasmFile).size;
const gz = gzipSync(readFileSync(wasmFile), { level: 9 }).length;

async function measure(v, text) {
  const obj = JSON.parse(text);
  for (let i = 0; i < 50; i++) v.validate(obj);
  const t = [];
  for (let b = 0; b < RUNS / 25; b++) { const a = performance.now(); for (let i = 0; i < 25; i++) v.validate(obj); t.push((performance.now() - a) / 25); }
  return median(t);
}

const { server, url } = await serveStatic();
const browser = await launchChromium();
const startup = [];
let chrome;
for (let run = 0; run < 7; run++) {
  const page = await browser.newPage();
  await page.goto(`${url}/playground/blank.html`);
  const r = await page.evaluate(async ({ nt, sx, RUNS, measureSrc }) => {
    const bundle = await (await fetch("/gen/bundles/national-medical-team-2024.json")).text();
    const t0 = performance.now();
    const m = await import("/pkg/shenhe_wasm.js");
    await m.default();
    const v = m.Validator.fromBundle(bundle);
    const startup = performance.now() - t0;
    if (RUNS === 0) return { startup };
    const measure = eval(`(${measureSrc})`);
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
    const sxv = m.Validator.fromBundle(await (await fetch("/gen/bundles/yizhen-week-2013-shanxi.json")).text());
    return { startup, nt: await measure(v, nt, RUNS, median), sx: await measure(sxv, sx, RUNS, median) };
  }, { nt, sx, RUNS: run === 0 ? RUNS : 0, measureSrc: `async (v, text, RUNS, median) => {
    const obj = JSON.parse(text);
    for (let i = 0; i < 50; i++) v.validate(obj);
    const t = [];
    for (let b = 0; b < RUNS / 25; b++) { const a = performance.now(); for (let i = 0; i < 25; i++) v.validate(obj); t.push((performance.now() - a) / 25); }
    return median(t);
  }` });
  startup.push(r.startup);
  if (run === 0) chrome = r;
  await page.close();
}
const version = await browser.version();
await browser.close();
server.close();

const node = await loadWasmInNode();
const nv = node.Validator.fromBundle(readFileSync(path.join(WWW, "gen/bundles/national-medical-team-2024.json"), "utf8"));
const sv = node.Validator.fromBundle(readFileSync(path.join(WWW, "gen/bundles/yizhen-week-2013-shanxi.json"), "utf8"));
const nodeNt = await measure(nv, nt);
const nodeSx = await measure(sv, sx);

const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
console.log(`Chromium ${version}, Node ${process.version}; median per-call time over ${RUNS / 25} batches of 25 calls`);
console.log(`| measure | budget | Chromium | Node |`);
console.log(`|---|---|---|---|`);
console.log(`| wasm size after wasm-opt -Oz | ≤ 800 KB gzipped | ${(gz / 1024).toFixed(0)} KB gzipped (${(size / 1024).toFixed(0)} KB raw) | |`);
console.log(`| instantiate + compile NT bundle (median of 7 fresh pages) | ≤ 100 ms | ${median(startup).toFixed(1)} ms | |`);
console.log(`| validate NT summary (obj → report obj) | ≤ 150 µs | ${us(chrome.nt)} | ${us(nodeNt)} |`);
console.log(`| validate Shanxi 200 rows | ≤ 2 ms | ${us(chrome.sx)} | ${us(nodeSx)} |`);
