// The parity corpus: every submission is validated natively (the shenhe
// CLI), in wasm under Node, and in wasm in headless Debian Chromium. The
// three reports must be byte-identical JSON. Then the JSON-Schema-Test-Suite
// runs through the schema layer natively, in Node and in Chromium: the
// outcomes must agree; where the jsonschema crate itself disagrees with the
// suite, the case is listed (out/schema-suite-deviations.txt), not hidden.
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { BIN, OUT, ROOT, WWW, firstDifference, launchChromium, loadWasmInNode, serveStatic } from "./lib.mjs";

const MIN_CORPUS = 2000;
const fail = (msg) => { console.error(`parity: FAIL: ${msg}`); process.exitCode = 1; };
const run = (args, opts = {}) => {
  const r = spawnSync(BIN, args, { cwd: ROOT, maxBuffer: 1 << 30, encoding: "utf8", ...opts });
  if (r.error || (r.status !== 0 && r.status !== 1)) throw new Error(`${BIN} ${args.join(" ")}: ${r.error ?? r.stderr}`);
  return r.stdout;
};

// 1. The corpus.
const corpusFile = path.join(OUT, "corpus.ndjson");
run(["corpus", "--rules", "rules", "--out", corpusFile, "--names", path.join(OUT, "corpus.names")]);
const lines = readFileSync(corpusFile, "utf8").split("\n").filter(Boolean);
const names = readFileSync(path.join(OUT, "corpus.names"), "utf8").split("\n");
if (lines.length < MIN_CORPUS) fail(`corpus has ${lines.length} submissions, fewer than ${MIN_CORPUS}`);

// 2. Native.
let t = performance.now();
const native = run(["check", "--rules", "rules", corpusFile]).split("\n").filter(Boolean);
console.log(`native:   ${native.length} reports in ${((performance.now() - t) / 1000).toFixed(1)} s`);
// The compiled path against the interpreter alone, over the same corpus.
t = performance.now();
const interpreted = run(["check", "--interpreter-only", "--rules", "rules", corpusFile]).split("\n").filter(Boolean);
let pathMismatch = 0;
for (let i = 0; i < lines.length; i++) {
  if (native[i] !== interpreted[i] && pathMismatch++ < 3) fail(`submission ${i + 1} (${names[i]}): compiled ≠ interpreted at ${firstDifference(native[i], interpreted[i])}`);
}
console.log(`interpreter only: ${interpreted.length} reports in ${((performance.now() - t) / 1000).toFixed(1)} s, ${pathMismatch} differ from the compiled path`);

// 3. Node.
const wasm = await loadWasmInNode();
const bundles = readFileSync(path.join(WWW, "gen/bundles/all.json"), "utf8");
const v = wasm.Validator.fromBundle(bundles);
t = performance.now();
const node = lines.map((l) => v.validateJson(l));
console.log(`node:     ${node.length} reports in ${((performance.now() - t) / 1000).toFixed(1)} s`);
// The object API is the text API through JSON: check it on every line.
let objectMismatch = 0;
for (const l of lines) {
  const obj = JSON.parse(l);
  const viaObject = JSON.stringify(v.validate(obj));
  const viaText = JSON.stringify(JSON.parse(v.validateJson(JSON.stringify(obj))));
  if (viaObject !== viaText && objectMismatch++ === 0) fail(`validate(obj) differs from validateJson: ${firstDifference(viaObject, viaText)}`);
}

// 4. Chromium.
const { server, url } = await serveStatic({ "/__corpus.ndjson": corpusFile });
const browser = await launchChromium();
const page = await browser.newPage();
page.on("pageerror", (e) => fail(`page error: ${e}`));
await page.goto(`${url}/playground/blank.html`);
t = performance.now();
const chrome = await page.evaluate(async () => {
  const m = await import("/pkg/shenhe_wasm.js");
  await m.default();
  const v = m.Validator.fromBundle(await (await fetch("/gen/bundles/all.json")).text());
  const lines = (await (await fetch("/__corpus.ndjson")).text()).split("\n").filter(Boolean);
  return lines.map((l) => v.validateJson(l));
});
console.log(`chromium: ${chrome.length} reports in ${((performance.now() - t) / 1000).toFixed(1)} s (${await browser.version()})`);

// 5. Compare.
let mismatches = 0;
const statuses = {};
const rules = new Set();
for (let i = 0; i < lines.length; i++) {
  for (const [label, other] of [["node", node], ["chromium", chrome]]) {
    if (native[i] !== other[i]) {
      if (mismatches++ < 3) fail(`submission ${i + 1} (${names[i]}): native ≠ ${label} at ${firstDifference(native[i], other[i])}`);
    }
  }
  const r = JSON.parse(native[i]);
  statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  for (const f of r.findings) rules.add(f.rule);
}
if (native.length !== lines.length) fail(`native gave ${native.length} reports for ${lines.length} submissions`);
console.log(`corpus: ${lines.length} submissions, ${mismatches} mismatches; statuses ${JSON.stringify(statuses)}; ${rules.size} distinct rule ids fired`);
// Every implemented rule must be exercised by the corpus.
const declared = JSON.parse(JSON.stringify(v.packs())).flatMap((p) => p.rules.map((r) => r.id));
const missing = [...new Set(declared)].filter((id) => !rules.has(id));
if (missing.length) fail(`rules never fired in the corpus: ${missing.join(", ")}`);
if (!rules.has("SCHEMA")) fail("no SCHEMA finding in the corpus");

// 5b. Hostile rules (tests/samples/hostile-pack): a runaway loop, a loop
// around native helpers, a doubling string, many large variables and deep
// recursion must stop at the same point, as the same ENGINE findings (with
// their positions), natively, in Node and in Chromium.
{
  const dir = path.join(ROOT, "tests/samples/hostile-pack");
  const subFile = path.join(ROOT, "tests/samples/hostile-submission.ndjson");
  const bundle = run(["bundle", dir, "-o", "-"]);
  const sub = readFileSync(subFile, "utf8").trim();
  const hNative = run(["check", "--rules", dir, subFile]).trim();
  const hNode = wasm.Validator.fromBundle(bundle).validateJson(sub);
  const hChrome = await page.evaluate(async ([b, s]) => {
    const m = await import("/pkg/shenhe_wasm.js");
    await m.default();
    return m.Validator.fromBundle(b).validateJson(s);
  }, [bundle, sub]);
  for (const [label, other] of [["node", hNode], ["chromium", hChrome]]) {
    if (hNative !== other) fail(`hostile rules: native ≠ ${label} at ${firstDifference(hNative, other)}`);
  }
  const engine = JSON.parse(hNative).findings.filter((f) => f.rule === "ENGINE").map((f) => `${f.params.rule}:${f.params.code}`);
  const want = ["H-SPIN:rule.limit", "H-HELP:rule.limit", "H-ALLOC:rule.limit", "H-VARS:rule.limit", "H-DEEP:rule.limit"];
  const missing = want.filter((w) => !engine.includes(w));
  if (missing.length || engine.length !== want.length) fail(`hostile rules: expected ENGINE findings ${want.join(", ")}, got ${engine.join(", ")}`);
  console.log(`hostile rules: ${engine.length} ENGINE findings, identical natively, in Node and in Chromium`);
}

// 6. JSON-Schema-Test-Suite (npm json-schema-test-suite): draft 4. Draft 3 is
// not supported by the jsonschema crate, so it is not run.
const suiteDir = path.join(ROOT, "tests/browser/node_modules/json-schema-test-suite/tests/draft4");
const cases = [];
const walk = (dir) => {
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, f.name);
    if (f.isDirectory()) walk(p);
    else if (f.name.endsWith(".json")) {
      for (const group of JSON.parse(readFileSync(p, "utf8"))) {
        const schema = typeof group.schema === "object" && group.schema !== null && !Array.isArray(group.schema)
          ? { $schema: "http://json-schema.org/draft-04/schema#", ...group.schema } : group.schema;
        for (const test of group.tests) {
          cases.push({ id: `${path.relative(suiteDir, p)} | ${group.description} | ${test.description}`, schema, data: test.data, valid: test.valid });
        }
      }
    }
  }
};
walk(suiteDir);
// The suite's remote schemas (served at http://localhost:1234/ by its own
// runner) are handed to the schema layer as preloaded resources.
const remotesDir = path.join(ROOT, "tests/browser/node_modules/json-schema-test-suite/remotes");
const resources = {};
const addRemotes = (dir, prefix) => {
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    if (f.isDirectory()) addRemotes(path.join(dir, f.name), `${prefix}${f.name}/`);
    else resources[`http://localhost:1234/${prefix}${f.name}`] = JSON.parse(readFileSync(path.join(dir, f.name), "utf8"));
  }
};
addRemotes(remotesDir, "");
const casesFile = path.join(OUT, "schema-suite-cases.json");
const casesJson = JSON.stringify({ resources, cases: cases.map(({ schema, data }) => ({ schema, data })) });
writeFileSync(casesFile, casesJson);
const suiteNative = JSON.parse(run(["schema-suite", casesFile]));
const suiteNode = JSON.parse(wasm.schemaOutcomes(casesJson));
const suiteChrome = await page.evaluate(async (text) => JSON.parse((await import("/pkg/shenhe_wasm.js")).schemaOutcomes(text)), casesJson);
const deviations = [];
let suiteMismatch = 0;
for (let i = 0; i < cases.length; i++) {
  if (suiteNative[i] !== suiteNode[i] || suiteNative[i] !== suiteChrome[i]) {
    if (suiteMismatch++ < 3) fail(`schema suite ${cases[i].id}: native ${suiteNative[i]}, node ${suiteNode[i]}, chromium ${suiteChrome[i]}`);
  }
  const expected = cases[i].valid ? "valid" : "invalid";
  if (suiteNative[i] !== expected) deviations.push(`${cases[i].id}: expected ${expected}, jsonschema says ${suiteNative[i]}`);
}
writeFileSync(path.join(OUT, "schema-suite-deviations.txt"), deviations.join("\n") + "\n");
console.log(`schema suite (draft4): ${cases.length} cases, native/node/chromium mismatches ${suiteMismatch}; ${deviations.length} where the jsonschema crate differs from the suite (listed in tests/browser/out/schema-suite-deviations.txt):`);
for (const d of deviations) console.log(`  ${d}`);

await browser.close();
server.close();
if (!process.exitCode) console.log("parity: ok");
