// The rule playground: edit a pack's files, paste a submission, see the
// report live. Everything runs on the shenhe wasm module; nothing is sent.
// The playground's own module (www/playground/pkg): the portal's plus Validator.fromFiles.
import init, { Validator } from "./pkg/shenhe_wasm.js";
// CodeMirror 6, bundled from npm at build time (editor-src.js → editor.js).
import { createEditor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const state = { packs: [], pack: null, files: {}, original: {}, current: "params.toml", validator: null, shipped: null, tests: {}, samples: {} };

function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function listFiles() {
  const ul = $("files");
  ul.replaceChildren();
  for (const name of Object.keys(state.files).sort()) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name + (state.files[name] !== state.original[name] ? " •" : "");
    b.className = name === state.current ? "current" : "";
    b.onclick = () => { state.current = name; editor.show(name, state.files[name]); $("file-name").textContent = name; listFiles(); compile(); };
    li.append(b);
    ul.append(li);
  }
}

function compile() {
  try {
    state.validator = Validator.fromFiles(state.files);
    $("compile").textContent = "编译通过 compiled";
    $("compile").className = "pg-compile ok";
    editor.clearErrors();
  } catch (e) {
    state.validator = null;
    const where = e.file ? `${e.file}:${e.line}:${e.column}: ` : "";
    $("compile").textContent = `编译失败 ${where}${e.detail ?? e.message}`;
    $("compile").className = "pg-compile bad";
    if (e.file === state.current && e.line) editor.markError(e.line, e.column, e.detail ?? e.message);
    $("verdict").textContent = "规则包未能编译，下方结果已过期 — the pack does not compile; the report below is stale";
    $("verdict").className = "pg-verdict stale";
  }
}

function evaluate() {
  if (!state.validator) return;
  let json;
  try {
    JSON.parse($("submission").value);
    json = $("submission").value;
  } catch (e) {
    $("verdict").textContent = `提交数据不是合法 JSON: ${e.message}`;
    $("verdict").className = "pg-verdict rejected";
    return;
  }
  const t0 = performance.now();
  let text;
  try {
    text = state.validator.validateJson(json, state.pack);
  } catch (e) {
    $("verdict").textContent = e.message;
    return;
  }
  $("timing").textContent = `${(performance.now() - t0).toFixed(2)} ms`;
  const report = JSON.parse(text);
  $("verdict").textContent = `${report.status} — ${report.findings.length} finding(s)`;
  $("verdict").className = `pg-verdict ${report.status}`;
  const ol = $("findings");
  ol.replaceChildren();
  for (const f of report.findings) {
    const li = document.createElement("li");
    li.className = `sev-${f.severity}`;
    li.innerHTML = "<b></b> <code></code><br><span></span><br><small></small>";
    li.querySelector("b").textContent = `${f.rule} ${f.severity}`;
    li.querySelector("code").textContent = f.path || "/";
    li.querySelector("span").textContent = f.message;
    li.querySelector("small").textContent = f.message_en;
    ol.append(li);
  }
  $("derived").textContent = JSON.stringify(report.derived, null, 2);
  $("report-json").textContent = text;
}

// What this edit changes: each sample's verdict with the edited pack and
// with the shipped one.
function compare() {
  const ul = $("changes");
  ul.replaceChildren();
  if (!state.validator || !state.shipped) return;
  let changed = 0;
  for (const [name, sample] of Object.entries(state.samples)) {
    const json = JSON.stringify(sample);
    const before = JSON.parse(state.shipped.validateJson(json, state.pack));
    const after = JSON.parse(state.validator.validateJson(json, state.pack));
    const key = (r) => r.findings.map((f) => `${f.rule} ${f.path}`).sort().join("\n");
    if (before.status === after.status && key(before) === key(after)) continue;
    changed += 1;
    const li = document.createElement("li");
    li.textContent = `${name}: ${before.status} → ${after.status} (${before.findings.length} → ${after.findings.length} findings)`;
    ul.append(li);
  }
  if (changed === 0) {
    const li = document.createElement("li");
    li.textContent = "示例提交的结论不变 no sample changes";
    ul.append(li);
  }
}

// The pack's fixtures (tests/) against the pack as edited.
function runFixtures() {
  const ol = $("fixtures");
  ol.replaceChildren();
  if (!state.validator) {
    $("fixture-summary").textContent = "规则包未能编译 the pack does not compile";
    $("fixture-summary").className = "pg-verdict rejected";
    return;
  }
  const outcomes = state.validator.runFixtures(state.tests);
  const failed = outcomes.filter((o) => o.failures.length > 0);
  $("fixture-summary").textContent = `${outcomes.length - failed.length} passed, ${failed.length} failed`;
  $("fixture-summary").className = `pg-verdict ${failed.length ? "rejected" : "accepted"}`;
  for (const o of [...failed, ...outcomes.filter((o) => o.failures.length === 0)]) {
    const li = document.createElement("li");
    li.className = o.failures.length ? "fail" : "pass";
    li.textContent = `${o.failures.length ? "✗" : "✓"} ${o.name}`;
    if (o.failures.length) {
      const small = document.createElement("small");
      small.textContent = `${o.file}: ${o.failures.join("\n")}`;
      li.append(small);
    }
    ol.append(li);
  }
}

const refresh = debounce(() => { compile(); evaluate(); compare(); }, 200);

const editor = createEditor($("source"), {
  label: "file source",
  onChange: (text) => { state.files[state.current] = text; listFiles(); refresh(); },
});
// For the end-to-end tests (and the console): the open file's text.
globalThis.shenhePlayground = {
  source: () => editor.text(),
  setSource: (text) => editor.view.dispatch({ changes: { from: 0, to: editor.view.state.doc.length, insert: text } }),
};

async function loadPack(id) {
  const res = await fetch(`../gen/packs/${id}.json`);
  const pack = await res.json();
  state.pack = id;
  $("pack").value = id;
  state.files = { ...pack.files };
  state.original = { ...pack.files };
  state.samples = pack.samples;
  state.tests = pack.tests ?? {};
  state.shipped = Validator.fromFiles(state.original);
  $("fixtures").replaceChildren();
  $("fixture-summary").textContent = `${Object.keys(state.tests).length} test files`;
  $("fixture-summary").className = "pg-verdict";
  state.current = "params.toml";
  editor.show(state.current, state.files[state.current]);
  $("file-name").textContent = state.current;
  const sample = $("sample");
  sample.replaceChildren(...Object.keys(pack.samples).map((k) => new Option(k, k)));
  $("submission").value = JSON.stringify(pack.samples[sample.value], null, 2);
  listFiles();
  compile();
  evaluate();
  compare();
}

await init();
const index = await (await fetch("../gen/packs/index.json")).json();
$("pack").replaceChildren(...index.map((p) => new Option(`${p.id} — ${p.title}`, p.id)));
$("pack").onchange = () => loadPack($("pack").value);
$("sample").onchange = () => { $("submission").value = JSON.stringify(state.samples[$("sample").value], null, 2); evaluate(); };
$("submission").oninput = debounce(evaluate, 150);
$("reset").onclick = () => loadPack(state.pack);
$("run-fixtures").onclick = runFixtures;
await loadPack(new URLSearchParams(location.search).get("pack") ?? index[0].id);
