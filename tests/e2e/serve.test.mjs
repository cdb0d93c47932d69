// End-to-end: `faststyle serve` on a free loopback port, driven by Debian's Chromium through
// playwright-core. Drops a photo on the page, picks a style, waits for the painting, checks it
// has the photo's size and differs from it, and leaves a screenshot in $TMPDIR (never in the
// repository). Every wait is bounded, so a broken page fails instead of hanging.
//
// Environment: FASTSTYLE_BIN (default target/release/faststyle, else target/debug/faststyle),
// CHROMIUM (default /usr/bin/chromium), E2E_SCREENSHOT_DIR (default $TMPDIR).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURES = join(ROOT, "tests/fixtures");
const WAIT_MS = 120_000;
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

function binary() {
  if (process.env.FASTSTYLE_BIN) return process.env.FASTSTYLE_BIN;
  const found = ["release", "debug"].map((p) => join(ROOT, "target", p, "faststyle")).find(existsSync);
  assert.ok(found, "no faststyle binary: run cargo build first or set FASTSTYLE_BIN");
  return found;
}

// Two styles of the random-weights fixture network: one with a preview painting, one without.
function checkpoints(dir) {
  for (const name of ["mosaic", "plain"]) {
    copyFileSync(join(FIXTURES, "transformer_net.safetensors"), join(dir, `${name}.safetensors`));
  }
  copyFileSync(join(FIXTURES, "style_96x80.png"), join(dir, "mosaic.png"));
}

// Starts the server on port 0 and resolves with the URL it prints once it listens.
function startServer(dir) {
  const child = spawn(binary(), ["serve", "--bind", "127.0.0.1", "--port", "0", "--checkpoints", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`server did not start: ${out}`)), WAIT_MS);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); fail(new Error(`server exited (${code}): ${out}`)); });
  });
  return { child, url };
}

// Drops `bytes` as a file on the drop zone, the way a browser does for a real drag and drop.
async function dropFile(page, name, type, bytes) {
  const dataTransfer = await page.evaluateHandle(({ name, type, b64 }) => {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([raw], name, { type }));
    return dt;
  }, { name, type, b64: Buffer.from(bytes).toString("base64") });
  await page.dispatchEvent("#drop", "drop", { dataTransfer });
}

// Size of both images, and how many pixels differ between them, measured in the page.
function compareImages(page) {
  return page.evaluate(() => {
    const pixels = (img) => {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      return ctx.getImageData(0, 0, c.width, c.height).data;
    };
    const before = document.getElementById("before");
    const after = document.getElementById("after");
    const [a, b] = [pixels(before), pixels(after)];
    let differing = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i += 4) {
      if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) differing++;
    }
    return {
      before: [before.naturalWidth, before.naturalHeight],
      after: [after.naturalWidth, after.naturalHeight],
      differing,
    };
  });
}

test("drop a photo, pick a style, get the painting back", { timeout: 5 * WAIT_MS }, async () => {
  const work = mkdtempSync(join(tmpdir(), "faststyle-e2e-"));
  const shots = process.env.E2E_SCREENSHOT_DIR || tmpdir();
  checkpoints(work);
  const { child, url: serverUrl } = startServer(work);
  let context;
  try {
    const url = await serverUrl;
    context = await chromium.launchPersistentContext(join(work, "profile"), {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 900 },
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    // Loopback only: any request elsewhere fails the test.
    const foreign = [];
    page.on("request", (r) => { if (!r.url().startsWith(url) && !/^(blob|data):/.test(r.url())) foreign.push(r.url()); });

    await page.goto(`${url}/`);
    await page.waitForSelector('#gallery button[data-style="plain"]');

    // Something that is not an image is refused with a message, before any upload.
    await dropFile(page, "notes.txt", "text/plain", Buffer.from("hello"));
    assert.match(await page.textContent("#error"), /is not an image/);

    // A file that says it is an image but is not: the server's reason is shown.
    await dropFile(page, "broken.png", "image/png", Buffer.from("not really a png"));
    await page.waitForSelector("#error:not([hidden])");
    await page.waitForFunction(() => /not an image.*\(400\)/.test(document.getElementById("error").textContent));

    // The real thing: a 128x96 photo, then a style.
    const photo = readFileSync(join(FIXTURES, "gatys_content_128x96.png"));
    await dropFile(page, "photo.png", "image/png", photo);
    await page.click('#gallery button[data-style="plain"]');
    await page.waitForFunction(() => {
      const after = document.getElementById("after");
      return document.getElementById("status").hidden && after.src && after.complete && after.naturalWidth > 0;
    });
    assert.equal(await page.isHidden("#error"), true, await page.textContent("#error"));
    assert.equal(await page.getAttribute('#gallery button[data-style="plain"]', "aria-checked"), "true");

    const result = await compareImages(page);
    assert.deepEqual(result.before, [128, 96]);
    assert.deepEqual(result.after, [128, 96]);
    assert.ok(result.differing > (128 * 96) / 2, `only ${result.differing} pixels differ`);
    assert.equal(await page.isVisible("#download"), true);
    assert.match(await page.getAttribute("#download", "download"), /^faststyle-plain\.png$/);

    await page.screenshot({ path: join(shots, "faststyle-serve.png"), fullPage: true });
    // Phone-sized: the two images stack and the page still fits the width.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
    await page.screenshot({ path: join(shots, "faststyle-serve-phone.png"), fullPage: true });
    assert.deepEqual(foreign, []);
    console.log(`screenshots in ${shots}`);
  } finally {
    if (context) await context.close();
    child.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
});
