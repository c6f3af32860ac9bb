// Drives Debian's Chromium (headless, through playwright-core) through examples/upload/uppy.html:
// Uppy's @uppy/aws-s3 plugin asks the API for a form (GET /s3/params) and POSTs the file to S3,
// or (the page's ?multipart=1) creates a multipart upload and PUTs its parts.
// Run by tests/browser.rs. Env:
//   PAGE        the page URL with ?api=...&uppy=... (and &multipart=1&token=...)
//   CHROMIUM    the executable; SCREENSHOT a PNG path; NO_CORS=1 runs Chromium without web
//               security (for an S3 that sends no CORS headers)
//   NAME, TYPE  the file's name and type; SIZE its bytes (a PNG padded with "a"), or FILE a
//               path to upload instead
//   HOLD_AFTER  let this many part PUTs through, hold the others, then (in this order):
//     OTHER_TOKEN  ask the API, with this token, to sign a part of, list, complete and abort
//                  the upload being held (the statuses are reported)
//     PLANT_URL    GET <PLANT_URL>?key=<the upload's key> (the test puts an object there)
//     RELOAD=1     reload the page once the file and the upload id are kept in IndexedDB;
//                  else let the held parts go
// Prints one JSON line: {state, text, key, upload, other, parts, lists, console}.
"use strict";
const { chromium } = require("playwright-core");
const { launch } = require("./launch");

// A 1x1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64");

const env = process.env;
const DEADLINE_MS = 120000;

// What the page shows and Uppy logged, for a failure message.
let diagnose = async () => "";

async function until(what, check) {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${await diagnose()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// What Golden Retriever has kept: the upload's {key, uploadId} once both the file's blob and
// the state naming the upload are in IndexedDB.
function kept() {
  return new Promise((resolve) => {
    const open = indexedDB.open("uppy-blobs");
    open.onerror = () => resolve(null);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains("files")) return resolve(null);
      const tx = db.transaction(["files", "metadata"], "readonly");
      const blobs = tx.objectStore("files").count();
      const meta = tx.objectStore("metadata").getAll();
      tx.oncomplete = () => {
        const files = meta.result.flatMap((r) => Object.values(JSON.parse(r.metadata).files || {}));
        const upload = files.map((f) => f.s3Multipart).find(Boolean);
        resolve(blobs.result > 0 && upload ? upload : null);
      };
      tx.onerror = () => resolve(null);
    };
  });
}

// Calls the multipart routes for someone else's upload with `token`: each route's status.
async function asOther({ api, token, key, uploadId }) {
  const id = encodeURIComponent(uploadId);
  const q = new URLSearchParams({ key });
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const call = async (method, rest, body) =>
    (await fetch(`${api}/s3/multipart/${id}${rest}?${q}`, { method, headers, body })).status;
  return {
    sign: await call("GET", "/1"),
    list: await call("GET", ""),
    complete: await call("POST", "/complete", JSON.stringify({ parts: [{ PartNumber: 1, ETag: "\"x\"" }] })),
    abort: await call("DELETE", ""),
  };
}

(async () => {
  const { context, cleanup } = await launch(chromium, { noCors: env.NO_CORS === "1" });
  try {
    const page = await context.newPage();
    const consoleLines = [];
    page.on("console", (m) => consoleLines.push(m.text()));
    page.on("pageerror", (e) => consoleLines.push(String(e)));
    diagnose = async () => {
      const log = await page.evaluate(() => (window.uppyLog || []).slice(-40)).catch(() => []);
      const status = await page.textContent("#status").catch(() => "?");
      return `file: ${env.FILE || env.NAME}; part PUTs seen: ${parts}, held: ${held.length}\nstatus: ${status}\nUppy's log:\n${log.join("\n")}\nconsole:\n${consoleLines.join("\n")}`;
    };
    // Part PUTs go to S3 (partNumber in the query), list calls to the API.
    let parts = 0;
    let lists = 0;
    const held = [];
    let holding = true;
    const hold = env.HOLD_AFTER === undefined ? Infinity : Number(env.HOLD_AFTER);
    page.on("request", (r) => {
      if (r.method() === "GET" && /\/s3\/multipart\/[^/?]+\?/.test(r.url())) lists += 1;
    });
    await context.route(/[?&]partNumber=/, (route) => {
      parts += 1;
      if (holding && parts > hold) held.push(route);
      else route.continue();
    });
    await page.goto(env.PAGE);
    // The page imports Uppy (a module with a top-level await): a file chosen before it is
    // listening would be lost.
    await page.waitForFunction(() => window.uppy !== undefined, null, { timeout: DEADLINE_MS });
    if (env.FILE) {
      await page.setInputFiles("#file", env.FILE);
    } else {
      const size = Number(env.SIZE || PNG.length);
      const buffer = Buffer.concat([PNG, Buffer.alloc(Math.max(0, size - PNG.length), 0x61)]);
      await page.setInputFiles("#file", { name: env.NAME, mimeType: env.TYPE, buffer });
    }
    const report = {};
    if (Number.isFinite(hold)) {
      await until("parts to be held", async () => held.length > 0 ||
        (await page.getAttribute("#status", "data-state")) === "error");
      if (held.length === 0) throw new Error(`the upload failed before any part was held: ${await page.textContent("#status")}\n${consoleLines.join("\n")}`);
      const upload = await until("Uppy to keep the upload in IndexedDB", () => page.evaluate(kept));
      report.upload = upload;
      const api = new URL(env.PAGE).searchParams.get("api");
      if (env.OTHER_TOKEN) {
        report.other = await page.evaluate(asOther, { api, token: env.OTHER_TOKEN, ...upload });
      }
      if (env.PLANT_URL) {
        const r = await fetch(`${env.PLANT_URL}?${new URLSearchParams({ key: upload.key })}`);
        if (!r.ok) throw new Error(`the test could not put an object at ${upload.key}: ${r.status}`);
      }
      report.partsBeforeReload = parts - held.length;
      holding = false;
      const waiting = held.splice(0);
      if (env.RELOAD === "1") {
        await context.unroute(/[?&]partNumber=/);
        await context.route(/[?&]partNumber=/, (route) => { parts += 1; route.continue(); });
        lists = 0;
        await page.reload();
      } else {
        for (const route of waiting) route.continue();
      }
    }
    await page.waitForSelector('#status[data-state="ok"], #status[data-state="error"]', { timeout: DEADLINE_MS })
      .catch(async (e) => { throw new Error(`${e.message}\n${await diagnose()}`); });
    const state = await page.getAttribute("#status", "data-state");
    const text = await page.textContent("#status");
    const key = await page.getAttribute("#status", "data-key");
    if (env.SCREENSHOT) await page.screenshot({ path: env.SCREENSHOT, fullPage: true });
    console.log(JSON.stringify({ state, text, key, ...report, parts, lists, console: consoleLines }));
  } finally {
    await cleanup();
  }
})().catch((e) => {
  console.error(e && e.stack || String(e));
  process.exit(1);
});
