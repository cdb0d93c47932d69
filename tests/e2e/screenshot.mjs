// Makes docs/serve.png: `faststyle serve` on the shipped checkpoints, a photo dropped on the
// page, the default style picked, the painting shown. Not a test; run it after changing the
// page or the shipped styles:
//
//   cargo build --release && (cd tests/e2e && npm ci) && node tests/e2e/screenshot.mjs [photo]
//
// Needs Debian's chromium (scripts/e2e.sh installs it).
import { spawn } from "node:child_process";
import { readFileSync, renameSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const photoPath = process.argv[2] || join(ROOT, "training-data", "0036.jpg");
const style = process.env.STYLE || "starry-night";
const out = join(ROOT, "docs", "serve.png");

const server = spawn(join(ROOT, "target", "release", "faststyle"),
  ["serve", "--port", "0", "--checkpoints", join(ROOT, "checkpoints")],
  { stdio: ["ignore", "pipe", "inherit"] });
try {
  const url = await new Promise((ok, fail) => {
    let text = "";
    server.stdout.on("data", (chunk) => {
      text += chunk;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(text);
      if (m) ok(m[1]);
    });
    server.on("exit", (code) => fail(new Error(`server exited (${code}): ${text}`)));
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  page.setDefaultTimeout(120_000);
  await page.goto(`${url}/`);
  await page.waitForSelector(`#gallery button[data-style="${style}"]`);
  const bytes = readFileSync(photoPath);
  const dataTransfer = await page.evaluateHandle(({ name, b64 }) => {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([raw], name, { type: "image/jpeg" }));
    return dt;
  }, { name: basename(photoPath), b64: bytes.toString("base64") });
  await page.dispatchEvent("#drop", "drop", { dataTransfer });
  await page.click(`#gallery button[data-style="${style}"]`);
  await page.waitForFunction(() => {
    const after = document.getElementById("after");
    return document.getElementById("status").hidden && after.src && after.complete && after.naturalWidth > 0;
  });
  await page.screenshot({ path: `${out}.tmp.png`, fullPage: true });
  renameSync(`${out}.tmp.png`, out);
  await browser.close();
  console.log(out);
} finally {
  server.kill();
}
