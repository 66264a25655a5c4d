// End-to-end, as a clerk would: the demo portal served by `shenhe serve`,
// driven in headless Debian Chromium. Screenshots go to out/screenshots/.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BIN, OUT, ROOT, WWW, launchChromium, startServe, wasmFile } from "./lib.mjs";

const SHOTS = path.join(OUT, "screenshots");
mkdirSync(SHOTS, { recursive: true });
let failures = 0;
const check = (ok, what) => { console.log(`${ok ? "  ok  " : "  FAIL"} ${what}`); if (!ok) failures++; };

const db = path.join(OUT, "e2e.db");
for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
const { server, base, token } = await startServe(db);

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("pageerror", (e) => check(false, `no page error (${e})`));
  const settle = () => page.waitForTimeout(400); // attach() debounces input by 150 ms
  const report = () => page.evaluate(() => window.shenhe.report());

  console.log("delivery: compressed on the wire, cached, revalidated");
  {
    const resources = () => page.evaluate(() => Object.fromEntries(performance.getEntriesByType("resource")
      .map((e) => [new URL(e.name).pathname, { transfer: e.transferSize, body: e.encodedBodySize, decoded: e.decodedBodySize, status: e.responseStatus }])));
    const wasm = `/pkg/${path.basename(wasmFile("pkg"))}`;
    const bundle = "/gen/bundles/national-medical-team-2024.json";
    await page.goto(`${base}/index.html?token=${token}`);
    await page.waitForFunction(() => window.shenhe !== undefined);
    const first = await resources();
    check(first[wasm] && first[wasm].body * 3 < first[wasm].decoded,
      `first visit: the module crosses the wire compressed (${first[wasm]?.body} of ${first[wasm]?.decoded} bytes)`);
    check(first[bundle] && first[bundle].body * 3 < first[bundle].decoded, `first visit: the bundle is compressed (${first[bundle]?.body} of ${first[bundle]?.decoded} bytes)`);
    await page.goto(`${base}/index.html?token=${token}`);
    await page.waitForFunction(() => window.shenhe !== undefined);
    const second = await resources();
    check(second[wasm]?.transfer === 0, `second visit: the hashed module comes from the browser cache (${second[wasm]?.transfer} bytes transferred)`);
    for (const route of ["/pkg/shenhe_wasm.js", bundle]) {
      const r = second[route];
      // Resource Timing reports a 304 revalidation as the cached response
      // (status 200) whose transfer size is the headers alone.
      check(r && r.transfer < 1024 && first[route].transfer > r.transfer + 1024,
        `second visit: ${route} is revalidated with no body (${r?.transfer} bytes transferred, headers only; ${first[route]?.transfer} the first time)`);
    }
  }

  console.log("national medical team form");
  await page.goto(`${base}/index.html?token=${token}`);
  await page.waitForFunction(() => window.shenhe !== undefined);
  let r = await report();
  check(!r.findings.some((f) => f.rule === "SCHEMA"), "the prefilled form has no schema errors");
  check(await page.locator('output[data-derived="team_size"]').textContent() === "6", "team size is derived (6)");

  // A team of 4: remove two members.
  for (let i = 0; i < 2; i++) await page.locator('[data-repeat="members"] [data-row]').last().locator("[data-remove]").click();
  await settle();
  r = await report();
  const nt01 = r.findings.find((f) => f.rule === "NT-01");
  check(nt01?.path === "/members" && nt01.severity === "error", "a team of 4 gives NT-01 on /members");
  const msg = page.locator('.shenhe-msg[data-rule="NT-01"]');
  check(await msg.count() === 1 && (await msg.textContent()).includes("NT-01"), "the NT-01 message is shown beside the members table");
  check((await page.locator(".shenhe-summary .shenhe-item-error").count()) >= 1, "the summary lists the error");
  await page.screenshot({ path: path.join(SHOTS, "01-team-of-four.png"), fullPage: true });
  await page.locator('button[type="submit"]').click();
  await settle();
  check(await page.locator("[data-shenhe-result]").textContent() === "", "submit is blocked while errors remain");

  // Messages speak the clerk's language: labels, never field names or codes.
  const level = page.locator('[data-repeat="sites"] [data-row]').first().locator('[data-field="level"]');
  await level.selectOption("provincial");
  await settle();
  const nt09 = page.locator('.shenhe-msg[data-rule="NT-09"]');
  const nt09Text = (await nt09.count()) === 1 ? await nt09.textContent() : "";
  check(nt09Text.includes("“省级”") && nt09Text.includes("地市级、县级"), `NT-09 beside the site names the levels by label (${nt09Text})`);
  const summaryText = await page.locator(".shenhe-summary").innerText();
  check(!/\b[a-z]+_[a-z_]+\b|\b(true|false|provincial|prefecture)\b/.test(summaryText), `the portal's summary shows no field name or code (${summaryText})`);
  await page.screenshot({ path: path.join(SHOTS, "01b-messages-with-labels.png"), fullPage: true });
  await level.selectOption("prefecture");

  // Add two members back.
  for (const [id, name, title] of [["m-05", "钱五", "intermediate"], ["m-06", "孙六", "none"]]) {
    await page.locator('[data-add="members"]').click();
    const row = page.locator('[data-repeat="members"] [data-row]').last();
    await row.locator('[data-field="person_id"]').fill(id);
    await row.locator('[data-field="name"]').fill(name);
    await row.locator('[data-field="profession"]').selectOption(title === "none" ? "manager" : "physician");
    await row.locator('[data-field="role"]').selectOption(title === "none" ? "management" : "clinical");
    await row.locator('[data-field="title_level"]').selectOption(title);
  }
  await settle();
  r = await report();
  check(!r.findings.some((f) => f.rule === "NT-01"), "with 6 members NT-01 is gone");

  // Dates typed into the sites fill in the total days.
  const site = page.locator('[data-repeat="sites"] [data-row]').nth(1);
  await site.locator('[data-field="end"]').fill("2024-10-30");
  await settle();
  check(await page.locator('output[data-derived="total_days"]').textContent() === "23", "total days = 7 + 16 = 23 after typing an end date");
  check(await page.locator('output[data-derived="county_domain_days"]').textContent() === "16", "county days = 16");
  // A number typed with a full-width digit and a thousands separator is normalised (A6).
  r = await report();

  // Explain every warning (the deadline is long past: NT-13).
  const warnings = r.findings.filter((f) => f.severity === "warning");
  check(warnings.length >= 1 && r.status === "needs_explanation", `warnings ask for an explanation (${warnings.map((w) => w.rule).join(", ")})`);
  await page.screenshot({ path: path.join(SHOTS, "02-warning-needs-explanation.png"), fullPage: true });
  await page.locator('button[type="submit"]').click();
  await settle();
  check(await page.locator("[data-shenhe-result]").textContent() === "", "submit waits for the explanations");
  for (const box of await page.locator("textarea[data-explain-rule]").all()) {
    await box.fill("演示：方案已于9月报送纸质件，系统补录。");
  }
  await settle();
  r = await report();
  check(r.status === "accepted" && r.findings.filter((f) => f.severity === "warning").every((f) => f.explained), "explained warnings: status accepted");

  // Submit; the server's report equals the one the browser showed.
  const submitted = page.evaluate(() => new Promise((ok) => document.getElementById("report").addEventListener("shenhe:submitted", (e) => ok(e.detail), { once: true })));
  await page.locator('button[type="submit"]').click();
  const detail = await submitted;
  check(detail.ok === true, `the form is submitted (${detail.error ?? `id ${detail.response?.id}`})`);
  await page.waitForSelector("[data-shenhe-result][data-ok=true]");
  await page.screenshot({ path: path.join(SHOTS, "03-submitted.png"), fullPage: true });
  check(detail.response.bundle_hash_matches === true, "the server's bundle hash matches the browser's");
  check(JSON.stringify(detail.response.report) === JSON.stringify(detail.client_report), "the server's report equals the browser's");
  const stored = await (await fetch(`${base}/api/submissions/${detail.response.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
  check((await fetch(`${base}/api/submissions/${detail.response.id}`)).status === 401, "the stored submission is not readable without a token");
  check(stored.status === "accepted" && JSON.stringify(stored.report) === JSON.stringify(detail.client_report), "the stored report equals the browser's");

  console.log("English locale");
  await page.goto(`${base}/index.html?token=${token}`);
  await page.waitForFunction(() => window.shenhe !== undefined);
  const en = await page.evaluate(async () => {
    const m = await import("/pkg/shenhe_wasm.js");
    const v = m.Validator.fromBundle(await (await fetch("/gen/bundles/national-medical-team-2024.json")).text());
    window.shenhe.detach();
    document.querySelectorAll("[data-shenhe-generated]").forEach((e) => e.remove());
    const b = m.attach(document.getElementById("report"), v, { locale: "en" });
    return document.querySelector(".shenhe-status").textContent;
  });
  check(/warning|Accepted|error/.test(en), `English summary (${en})`);

  console.log("Shanxi free-clinic week form");
  await page.goto(`${base}/shanxi.html?token=${token}`);
  await page.waitForFunction(() => window.shenhe !== undefined);
  r = await report();
  check(!r.findings.some((f) => f.rule === "SCHEMA"), "the prefilled Shanxi form has no schema errors");
  const visits = page.locator('[data-repeat="public_sites"] [data-row]').first().locator('[data-field="person_times"]');
  await visits.fill("１，５００");
  await settle();
  r = await report();
  const sx04 = r.findings.find((f) => f.rule === "SX13-04");
  check(sx04?.path === "/public_sites/0/person_times" && sx04.params.actual === 1500, "１，５００ is read as 1500 (A6) and gives SX13-04");
  await page.screenshot({ path: path.join(SHOTS, "04-shanxi-sx13-04.png"), fullPage: true });

  console.log("playground");
  await page.goto(`${base}/playground/?pack=national-medical-team-2024`);
  await page.waitForSelector(".pg-compile.ok");
  check((await page.locator("#verdict").textContent()).length > 0, "the playground shows a verdict");
  await page.locator("#files button", { hasText: "rules/nt01" }).click();
  await page.evaluate((text) => globalThis.shenhePlayground.setSource(text), "//! id: NT-01\n//! severity: error\nlet x = ;\n");
  await page.waitForSelector(".pg-compile.bad");
  await page.waitForSelector(".cm-lintRange-error");
  check((await page.locator(".cm-lintRange-error").count()) === 1, "the editor (CodeMirror) marks the error in the text");
  check((await page.locator(".cm-line span").count()) >= 3, "the Rhai source is highlighted (keywords, comments as their own spans)");
  const compile = await page.locator("#compile").textContent();
  check(/rules\/nt01[^:]*\.rhai:3:\d+/.test(compile), `a compile error names file, line and column (${compile})`);
  check(await page.locator("#pack").inputValue() === "national-medical-team-2024", "the pack picker shows the pack being edited");
  check((await page.locator("#verdict").getAttribute("class")).includes("stale"), "the last report is marked stale while the pack does not compile");
  await page.screenshot({ path: path.join(SHOTS, "05-playground-compile-error.png"), fullPage: true });

  // The pack's fixtures run in the browser, against the pack as edited.
  await page.locator("#reset").click();
  await page.waitForSelector(".pg-compile.ok");
  await page.locator("#run-fixtures").click();
  let fixtureSummary = await page.locator("#fixture-summary").textContent();
  const shipped = /^(\d+) passed, 0 failed$/.exec(fixtureSummary);
  check(shipped && Number(shipped[1]) > 100, `the shipped pack passes its fixtures in the browser (${fixtureSummary})`);
  check((await page.locator("#changes").textContent()).includes("no sample changes"), "an unedited pack changes no sample's verdict");
  await page.locator("#files button", { hasText: "params.toml" }).click();
  await page.waitForFunction(() => globalThis.shenhePlayground.source().includes("min_team_size"));
  const params = await page.evaluate(() => globalThis.shenhePlayground.source());
  check(params.includes("min_team_size = 5"), "params.toml holds the team-size threshold");
  await page.evaluate((text) => globalThis.shenhePlayground.setSource(text), params.replace("min_team_size = 5", "min_team_size = 7"));
  await page.waitForFunction(() => document.querySelector("#changes").textContent.includes("→ rejected"));
  check(/accepted → rejected/.test(await page.locator("#changes").textContent()), "raising the threshold shows which samples it rejects");
  await page.locator("#run-fixtures").click();
  fixtureSummary = await page.locator("#fixture-summary").textContent();
  const failing = await page.locator("#fixtures li.fail").allTextContents();
  check(/[1-9]\d* failed$/.test(fixtureSummary) && failing.some((t) => t.includes("nt01/")), `the edit fails the NT-01 fixtures that pin 5 (${fixtureSummary})`);
  await page.screenshot({ path: path.join(SHOTS, "05b-playground-fixtures.png"), fullPage: true });

  console.log("batch summary (shenhe check --format html)");
  const run = spawnSync(BIN, ["check", "--format", "html", "--registry", "tests/samples/sheets/quangang-registry.csv",
    "tests/samples/sheets/qz-monthly.xlsx", "tests/samples/sheets/nt-teams.csv"], { cwd: ROOT, encoding: "utf8" });
  check(run.status === 0 && run.stdout.startsWith("<!doctype html>"), `the summary is written; no submission is rejected, exit 0 (got ${run.status}; ${run.stderr.trim()})`);
  const summary = path.join(OUT, "batch-summary.html");
  writeFileSync(summary, run.stdout);
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`file://${summary}`);
  check(requests.length === 1, `the page loads nothing besides itself (${requests.length} request(s))`);
  const charts = await page.evaluate(() => [...document.querySelectorAll("svg")].map((s) => ({
    h: s.getBoundingClientRect().height, bars: s.querySelectorAll("rect").length, labels: [...s.querySelectorAll("text")].map((t) => t.textContent) })));
  check(charts.length === 2 && charts.every((c) => c.h > 0 && c.bars > 0), "both charts render with bars");
  check(["NT-15", "QZ-03"].every((id) => charts[0].labels.some((l) => l.startsWith(`${id} `) && /[\u4e00-\u9fff]/.test(l))),
    `the per-rule chart shows the cross-record rules with their titles (${charts[0].labels.join(" | ")})`);
  check(charts[1].labels.includes("南埔镇卫生院"), "the per-jurisdiction chart names the recipients");
  const text = await page.locator("body").innerText();
  check(text.includes("nt-teams.csv!C58") && text.includes("委属医院0003"), "the NT-15 finding cites the hospital's cell");
  check(/服务总量（门诊、手术、远程、上门） services total[^\n]*\s+\d+/.test(text) && !/services_total|team_size/.test(text),
    "the roll-ups show each figure by its label, never its field name");
  check(/云南省（53）|贵州省（52）/.test(text), "jurisdictions are shown by name (云南省（53）)");
  await page.screenshot({ path: path.join(SHOTS, "06-batch-summary.png"), fullPage: true });
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
console.log(failures ? `e2e: ${failures} failed` : "e2e: ok");
process.exitCode = failures ? 1 : 0;
