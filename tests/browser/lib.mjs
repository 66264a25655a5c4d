// Shared by the parity, budget and end-to-end harnesses: paths, the native
// binary, a static file server for www/, and headless Debian Chromium.
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { readFile, stat } from "node:fs/promises";
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const WWW = path.join(ROOT, "www");
export const OUT = path.join(ROOT, "tests/browser/out");
mkdirSync(OUT, { recursive: true });

const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(process.env.HOME, ".cache/shenhe-target");
/** The native CLI: $SHENHE_BIN, else the release build in the target dir. */
export const BIN = process.env.SHENHE_BIN ?? path.join(targetDir, "release/shenhe");

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
  ".json": "application/json", ".wasm": "application/wasm", ".ndjson": "application/x-ndjson", ".png": "image/png" };

/** Serves www/ (and `extra` as { "/url": absolute file }) on an ephemeral loopback port. */
export async function serveStatic(extra = {}) {
  const server = createServer(async (req, res) => {
    const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = extra[url] ?? path.join(WWW, path.normalize(url).replace(/^(\.\.[/\\])+/, ""));
    try {
      if ((await stat(file)).isDirectory()) file = path.join(file, "index.html");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** Starts `shenhe serve` on a free loopback port with database `db`; resolves when it answers.
 *  Returns { server (the child process), base (its URL), token (a national submitter's) }. */
export async function startServe(db) {
  const added = spawnSync(BIN, ["token", "add", "--db", db, "--role", "submitter", "--division", "CN", "--name", "browser tests"], { cwd: ROOT, encoding: "utf8" });
  if (added.status !== 0) throw new Error(`shenhe token add failed: ${added.stderr}`);
  const token = added.stdout.trim().split("\n").pop();
  const port = await new Promise((ok) => { const s = createNetServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  const server = spawn(BIN, ["serve", "--rules", "rules", "--www", WWW, "--db", db, "--addr", `127.0.0.1:${port}`], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/api/packs`)).ok) break; } catch { /* not up yet */ }
    if (i > 100) throw new Error("shenhe serve did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { server, base, token };
}

/** Headless Debian Chromium (Playwright's own browser download does not work here). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

/** The module file of a build (`pkg`: the portal's, `playground/pkg`: the playground's);
 *  its name carries its content hash (scripts/build-wasm.sh). */
export function wasmFile(dir = "pkg") {
  const names = readdirSync(path.join(WWW, dir)).filter((n) => /^shenhe_wasm_bg\.[0-9a-f]+\.wasm$/.test(n));
  if (names.length !== 1) throw new Error(`expected one www/${dir}/shenhe_wasm_bg.<hash>.wasm, found ${names.length}; run scripts/build-wasm.sh`);
  return path.join(WWW, dir, names[0]);
}

/** Loads a wasm module in Node (the portal's by default). */
export async function loadWasmInNode(dir = "pkg") {
  const mod = await import(path.join(WWW, dir, "shenhe_wasm.js"));
  await mod.default({ module_or_path: await readFile(wasmFile(dir)) });
  return mod;
}

/** The first place two JSON texts differ, as "path: a ≠ b". */
export function firstDifference(a, b) {
  let x, y;
  try { x = JSON.parse(a); y = JSON.parse(b); } catch { return `not JSON: ${a.slice(0, 80)} | ${b.slice(0, 80)}`; }
  const walk = (p, u, v) => {
    if (typeof u !== typeof v || Array.isArray(u) !== Array.isArray(v) || u === null || v === null || typeof u !== "object") {
      return JSON.stringify(u) === JSON.stringify(v) ? null : `${p || "/"}: ${JSON.stringify(u)} ≠ ${JSON.stringify(v)}`;
    }
    const keys = [...new Set([...Object.keys(u), ...Object.keys(v)])];
    for (const k of keys) { const d = walk(`${p}/${k}`, u[k], v[k]); if (d) return d; }
    if (JSON.stringify(Object.keys(u)) !== JSON.stringify(Object.keys(v))) return `${p || "/"}: key order differs`;
    return null;
  };
  return walk("", x, y) ?? "same values, different bytes (number formatting or escaping)";
}
