// The demo portal's one script, as an integrator would write it (www/README.md):
// the form names its bundle in data-shenhe-bundle. A separate file rather than
// an inline <script>, so the pages keep a Content-Security-Policy with no
// 'unsafe-inline' (shenhe serve sends one).
import init, { Validator, attach } from "./pkg/shenhe_wasm.js";

const form = document.getElementById("report");
// The module (compiled while it streams in) and the bundle arrive in parallel.
const [bundle] = await Promise.all([fetch(`./gen/bundles/${form.dataset.shenheBundle}.json`).then((r) => r.text()), init()]);
const validator = Validator.fromBundle(bundle);
window.shenhe = attach(form, validator, {
  locale: "zh-CN",
  endpoint: "/api/submissions",
  // The clerk's credential: the demo passes ?token=… (scripts/run.sh prints one);
  // a real portal gives its signed-in clerk's token, or files through its own backend.
  token: new URLSearchParams(location.search).get("token") ?? undefined,
});
