// Drives Debian's Chromium (headless, through playwright-core) through examples/upload/uppy.html:
// Uppy's @uppy/aws-s3 plugin asks the API for a form (GET /s3/params) and POSTs the file to S3.
// Run by tests/browser.rs. Env: PAGE (the page URL with ?api=...&uppy=...), SCREENSHOT (PNG
// path), CHROMIUM (executable), NAME, TYPE and SIZE (bytes, at least 70: a PNG padded) of the
// file, NO_CORS=1 to run Chromium without web security (for an S3 that sends no CORS headers).
// Prints one JSON line: {state, text, key, console}.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

// A 1x1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64");

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "presign-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
    ].concat(process.env.NO_CORS === "1" ? ["--disable-web-security"] : []),
  });
  try {
    const page = await context.newPage();
    const console_lines = [];
    page.on("console", (m) => console_lines.push(m.text()));
    page.on("pageerror", (e) => console_lines.push(String(e)));
    await page.goto(process.env.PAGE);
    const size = Number(process.env.SIZE || PNG.length);
    const buffer = Buffer.concat([PNG, Buffer.alloc(Math.max(0, size - PNG.length), 0x61)]);
    await page.setInputFiles("#file", { name: process.env.NAME, mimeType: process.env.TYPE, buffer });
    await page.waitForSelector('#status[data-state="ok"], #status[data-state="error"]', { timeout: 30000 });
    const state = await page.getAttribute("#status", "data-state");
    const text = await page.textContent("#status");
    const key = await page.getAttribute("#status", "data-key");
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    console.log(JSON.stringify({ state, text, key, console: console_lines }));
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(e && e.stack || String(e));
  process.exit(1);
});
