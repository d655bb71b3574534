// The chat page at / driven in headless Chromium (Debian's chromium + playwright-core): send a
// message, see the streamed answer and the tokens/s line.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
let srv, context, profile;

before(async () => {
  srv = await startServer(["--parallel", "2", "-c", "512"]);
  profile = mkdtempSync(join(tmpdir(), "sobre-chromium-"));
  // A fresh profile, and none of Chromium's background connections (this machine has no network).
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (context) await context.close();
  if (srv) await srv.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test("the page streams an answer and reports tokens/s", { skip: !existsSync(CHROMIUM) && "no chromium" }, async () => {
  const page = await context.newPage();
  await page.goto(srv.url + "/");
  await page.waitForFunction(() => document.getElementById("model").textContent === "tiny.gguf");
  await page.fill("#input", "Hello there");
  await page.click("#send");
  await page.waitForSelector(".msg.user");
  await page.waitForFunction(() => /tokens\/s/.test(document.getElementById("stats").textContent), null, { timeout: 60000 });
  await page.waitForFunction(() => !document.getElementById("send").disabled, null, { timeout: 60000 });
  const answer = await page.textContent(".msg.assistant");
  assert.ok(answer.length > 0, "an answer was streamed");
  assert.equal(await page.textContent(".msg.user"), "Hello there");
  if (process.env.SOBRE_SCREENSHOT) await page.screenshot({ path: process.env.SOBRE_SCREENSHOT });
});
