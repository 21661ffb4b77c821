// Browser test of the clerk console: Debian's headless Chromium driven by
// playwright-core against a running `askonce dev` (browser_test.go starts
// it and runs this script). A clerk signs in, asks for a document of each
// outcome (issued, not_held, source_stale, denied, invalid), switches to Arabic, prints
// the document to PDF, and a verifier opens the printed verification link;
// a tampered code is refused. Screenshots and PDFs go to $ARTIFACTS.
//
// Environment: BASE_URL, API_KEY, CLERK_ID, DOC_TYPE, PURPOSE, ISSUED_NIN,
// NOT_HELD_NIN, DENIED_PURPOSE, ARTIFACTS, CHROMIUM (default /usr/bin/chromium),
// STALE_CONTROL.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined || v === "") throw new Error(`${name} is not set`);
  return v;
};
const BASE = env("BASE_URL").replace(/\/$/, "");
const KEY = env("API_KEY");
const CLERK = env("CLERK_ID", "guichet-browser");
const DOC_TYPE = env("DOC_TYPE");
const PURPOSE = env("PURPOSE");
const ISSUED_NIN = env("ISSUED_NIN");
const NOT_HELD_NIN = env("NOT_HELD_NIN");
const DENIED_PURPOSE = env("DENIED_PURPOSE");
const ARTIFACTS = env("ARTIFACTS");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
// The Go test's control address: POST /stale/on makes the store's
// watermarks too old for DOC_TYPE (the API then answers 503
// source_stale), /stale/off makes them fresh again; each answers the
// made-up lagging data centers, comma-separated.
const STALE_CONTROL = env("STALE_CONTROL").replace(/\/$/, "");
const TIMEOUT = 60_000;
const MAX_PAGE = 100 * 1024;

mkdirSync(ARTIFACTS, { recursive: true });
const userDataDir = mkdtempSync(join(tmpdir(), "askonce-chromium-"));
const artifacts = [];
let step = "launch";

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1100, height: 900 },
  timeout: TIMEOUT,
});
context.setDefaultTimeout(TIMEOUT);
context.setDefaultNavigationTimeout(TIMEOUT);

// Every page and asset this test loads must come from the console's own
// origin (no CDN), and each HTML page must weigh under 100 KB.
const pageBytes = [];
const foreign = [];
context.on("request", (req) => {
  const u = new URL(req.url());
  if (u.origin !== new URL(BASE).origin && u.protocol !== "data:") foreign.push(req.url());
});
context.on("response", async (res) => {
  if (res.request().resourceType() === "document") {
    try {
      const body = await res.body();
      pageBytes.push({ url: res.url(), bytes: body.length });
    } catch { /* redirects have no body */ }
  }
});

async function shot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  artifacts.push(path);
}

// accessible: every visible form control has a label, the page a lang,
// no inline script, every text AA contrast (4.5:1) on its background.
async function checkAccessible(page) {
  const problems = await page.evaluate(() => {
    const out = [];
    if (!document.documentElement.lang) out.push("html has no lang");
    for (const el of document.querySelectorAll("input, select, textarea")) {
      if (el.type === "hidden") continue;
      const labelled = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
      if (!labelled) out.push(`${el.tagName.toLowerCase()}#${el.id || el.name} has no label`);
    }
    if (document.querySelectorAll("script:not([src])").length) out.push("inline script");
    // WCAG AA contrast of every visible text against its effective background.
    const rgb = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    for (const el of document.querySelectorAll("body *")) {
      if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
      const st = getComputedStyle(el);
      if (st.visibility === "hidden" || !el.getClientRects().length) continue;
      const fg = rgb(st.color);
      if (!fg) { out.push(`${el.tagName}: color ${st.color} not rgb`); continue; }
      const l1 = lum(fg), l2 = lum(background(el));
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      if (ratio < 4.5) out.push(`contrast ${ratio.toFixed(2)} < 4.5: ${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 40)}"`);
    }
    return out;
  });
  assert.deepEqual(problems, [], `accessibility problems on ${page.url()}`);
}

async function ask(page, nin, docType, purpose) {
  await page.fill("#nin", nin);
  await page.selectOption("#document_type", docType);
  await page.selectOption("#purpose", purpose);
  await page.fill("#clerk", CLERK);
  // Keyboard: from the last field, Tab reaches the submit button and Enter sends.
  await page.focus("#clerk");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.type);
  assert.equal(focused, "submit", "Tab from the clerk field should reach the submit button");
  // A new answer has a new number: wait for that page, not the one shown.
  const before = page.url();
  await Promise.all([page.waitForURL((u) => /\/console\/answers\/\d+/.test(u.pathname) && u.href !== before), page.keyboard.press("Enter")]);
  await page.waitForSelector("section.answer");
  return page.getAttribute("section.answer", "data-outcome");
}

// switchLang clicks the language switch and waits for the page in that language.
async function switchLang(page, code) {
  await Promise.all([page.waitForURL((u) => u.searchParams.get("lang") === code), page.click(`a[data-lang=${code}]`)]);
  await page.waitForSelector(`html[lang=${code}]`);
}

try {
  const page = await context.newPage();

  step = "sign-in page";
  let res = await page.goto(`${BASE}/console?lang=fr`);
  assert.equal(res.status(), 200);
  assert.equal(await page.getAttribute("html", "lang"), "fr");
  const csp = res.headers()["content-security-policy"] || "";
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  await checkAccessible(page);
  await shot(page, "fr-sign-in");

  step = "sign-in with a wrong key";
  await page.fill("#api_key", "not-a-key");
  await page.fill("#clerk_id", CLERK);
  await Promise.all([page.waitForURL((u) => u.pathname === "/console/sign-in"), page.click("button[type=submit]")]);
  await page.waitForSelector("#signin-error");

  step = "sign-in";
  await page.fill("#api_key", KEY);
  await page.fill("#clerk_id", CLERK);
  await Promise.all([page.waitForURL(`${BASE}/console`), page.click("form[action='/console/sign-in'] button")]);
  await page.waitForSelector("#request-form");
  assert.ok((await page.textContent("header.top")).includes(CLERK), "the header names the clerk");
  const cookies = await context.cookies();
  for (const c of cookies) assert.ok(!c.value.includes(KEY), `cookie ${c.name} holds the API key`);
  const session = cookies.find((c) => c.name === "askonce_console");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", "session cookie HttpOnly, SameSite=Strict");
  await checkAccessible(page);
  await shot(page, "fr-form");

  step = "issued";
  assert.equal(await ask(page, ISSUED_NIN, DOC_TYPE, PURPOSE), "issued");
  await page.waitForSelector("article.paper svg.qr");
  const docID = (await page.textContent("#doc-id")).trim();
  const code = (await page.textContent("#verify-code")).trim();
  const verifyLink = await page.getAttribute("#verify-link", "href");
  assert.match(docID, /^doc_[0-9a-f]{24}$/);
  assert.match(code, /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
  assert.ok(verifyLink.startsWith(`${BASE}/verify/${docID}?c=`), `verify link ${verifyLink}`);
  assert.ok((await page.textContent("article.paper")).includes(ISSUED_NIN), "the clerk's paper shows the NIN");
  await page.waitForSelector("button[data-print]:not([hidden])"); // the one script ran
  await checkAccessible(page);
  await shot(page, "fr-issued");

  step = "print to PDF";
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.isVisible("header.top"), false, "the print stylesheet hides the header");
  assert.equal(await page.isVisible("#request-form"), false, "the print stylesheet hides the form");
  assert.equal(await page.isVisible("article.paper"), true);
  await shot(page, "fr-issued-print");
  const pdfPath = join(ARTIFACTS, "fr-issued.pdf");
  await page.pdf({ path: pdfPath, format: "A4", printBackground: true });
  assert.equal(readFileSync(pdfPath).subarray(0, 5).toString(), "%PDF-");
  artifacts.push(pdfPath);
  await page.emulateMedia({ media: "screen" });

  step = "switch to Arabic";
  await switchLang(page, "ar");
  await page.waitForSelector("html[lang=ar][dir=rtl]");
  assert.equal(await page.getAttribute("section.answer", "data-outcome"), "issued", "the same answer, in Arabic");
  assert.equal((await page.textContent("#doc-id")).trim(), docID);
  assert.match(await page.textContent("#paper-title"), /[\u0600-\u06FF]/, "Arabic paper title");
  await checkAccessible(page);
  await shot(page, "ar-issued");
  await page.emulateMedia({ media: "print" });
  const arPdf = join(ARTIFACTS, "ar-issued.pdf");
  await page.pdf({ path: arPdf, format: "A4", printBackground: true });
  assert.equal(readFileSync(arPdf).subarray(0, 5).toString(), "%PDF-");
  artifacts.push(arPdf);
  await page.emulateMedia({ media: "screen" });

  step = "Arabic persists";
  await page.goto(`${BASE}/console`);
  await page.waitForSelector("html[lang=ar][dir=rtl]");

  step = "not held (Arabic)";
  assert.equal(await ask(page, NOT_HELD_NIN, DOC_TYPE, PURPOSE), "not_held");
  const paperToAsk = (await page.textContent("#paper-to-ask")).trim();
  assert.ok(paperToAsk.length > 0, "names the paper to ask for");
  assert.match(paperToAsk, /[\u0600-\u06FF]/, "in Arabic");
  assert.equal(await page.getAttribute("section.answer", "data-status"), "404");
  await shot(page, "ar-not-held");
  await switchLang(page, "fr");
  await page.waitForSelector("html[lang=fr][dir=ltr]");
  assert.ok((await page.textContent("#paper-to-ask")).trim().length > 0);
  await page.waitForSelector("#not-held-reason");
  await shot(page, "fr-not-held");

  step = "source stale";
  // The store lags: the API answers 503 source_stale. The clerk is told to
  // retry, with each lagging data center and its lag, never to send the
  // citizen for the paper; the retry button asks again, and once the store
  // is fresh the same request is issued.
  const stale = async (on) => {
    const r = await fetch(`${STALE_CONTROL}/stale/${on ? "on" : "off"}`, { method: "POST" });
    const body = await r.text();
    assert.equal(r.status, 200, `stale control: ${body}`);
    return body.split(",");
  };
  const lagging = await stale(true);
  try {
    assert.equal(await ask(page, ISSUED_NIN, DOC_TYPE, PURPOSE), "not_held");
  } finally {
    await stale(false);
  }
  assert.equal(await page.getAttribute("section.answer", "data-status"), "503");
  assert.equal(await page.getAttribute("section.answer", "data-reason"), "source_stale");
  assert.equal(await page.locator("#paper-to-ask").count(), 0, "no paper to ask the citizen for");
  const dcs = await page.locator("#stale-sources li").evaluateAll((els) => els.map((e) => e.dataset.dataCenter));
  assert.deepEqual(dcs, lagging, "each lagging data center is listed");
  assert.match(await page.textContent("#stale-sources"), /3 h de retard/);
  assert.match(await page.textContent("#retry-after"), /Réessayez dans 30 s/);
  assert.match(await page.textContent("#stale-not-away"), /Ne renvoyez pas le citoyen/);
  await checkAccessible(page);
  await shot(page, "fr-source-stale");
  await switchLang(page, "ar");
  await page.waitForSelector("html[lang=ar][dir=rtl]");
  assert.equal(await page.getAttribute("section.answer", "data-reason"), "source_stale");
  assert.match(await page.textContent("#stale-sources"), /بتأخر 3 ساعات/);
  assert.match(await page.textContent("#retry-after"), /أعد المحاولة بعد 30 ثانية/);
  await checkAccessible(page);
  await shot(page, "ar-source-stale");
  await switchLang(page, "fr");
  const beforeRetry = page.url();
  await Promise.all([page.waitForURL((u) => /\/console\/answers\/\d+/.test(u.pathname) && u.href !== beforeRetry),
    page.click("#retry-form button")]);
  await page.waitForSelector("section.answer");
  assert.equal(await page.getAttribute("section.answer", "data-outcome"), "issued", "the retry, once the store is fresh, is issued");

  step = "denied";
  assert.equal(await ask(page, ISSUED_NIN, DOC_TYPE, DENIED_PURPOSE), "denied");
  assert.equal(await page.getAttribute("section.answer", "data-status"), "403");
  await shot(page, "fr-denied");
  await switchLang(page, "ar");
  await page.waitForSelector("html[lang=ar]");
  await shot(page, "ar-denied");
  await switchLang(page, "fr");

  step = "invalid";
  assert.equal(await ask(page, "12345", DOC_TYPE, PURPOSE), "invalid");
  assert.equal(await page.getAttribute("#nin", "aria-invalid"), "true");
  assert.ok(await page.isVisible("#nin-error"));
  assert.equal(await page.inputValue("#nin"), "12345", "the form keeps what was typed");
  await shot(page, "fr-invalid");
  await switchLang(page, "ar");
  await page.waitForSelector("#nin-error");
  await shot(page, "ar-invalid");
  await switchLang(page, "fr");

  step = "verify: the printed link";
  const verifier = await context.newPage();
  res = await verifier.goto(verifyLink);
  assert.equal(res.status(), 200);
  assert.equal(await verifier.getAttribute("#verify-result", "data-result"), "authentic");
  const masked = (await verifier.textContent("#masked-nin")).trim();
  assert.ok(masked.endsWith(ISSUED_NIN.slice(-4)) && !masked.includes(ISSUED_NIN.slice(0, 8)), `masked NIN ${masked}`);
  assert.ok(!(await verifier.content()).includes(ISSUED_NIN), "the public page never shows the full NIN");
  await checkAccessible(verifier);
  await shot(verifier, "fr-verify-authentic");
  await switchLang(verifier, "ar");
  await verifier.waitForSelector("html[lang=ar][dir=rtl]");
  assert.equal(await verifier.getAttribute("#verify-result", "data-result"), "authentic");
  await shot(verifier, "ar-verify-authentic");
  await switchLang(verifier, "fr");

  step = "verify: a tampered code";
  const last = code.at(-1) === "A" ? "B" : "A";
  const tampered = code.slice(0, -1) + last;
  res = await verifier.goto(`${BASE}/verify/${docID}?c=${tampered}`);
  assert.equal(res.status(), 404);
  assert.equal(await verifier.getAttribute("#verify-result", "data-result"), "not_authentic");
  assert.ok(!(await verifier.locator("article.paper").count()), "nothing of the document shown");
  await shot(verifier, "fr-verify-tampered");

  step = "verify: the form, by hand";
  await verifier.goto(`${BASE}/verify`);
  await verifier.fill("#vid", docID);
  await verifier.fill("#vcode", code.toLowerCase().replaceAll("-", " "));
  await Promise.all([verifier.waitForURL(/\/verify\/doc_/), verifier.click("form[action='/verify'][method=get] button")]);
  assert.equal(await verifier.getAttribute("#verify-result", "data-result"), "authentic", "a typed code, any case, with spaces");

  step = "sign out";
  await Promise.all([page.waitForURL(/\/console\?m=out/), page.click("form[action='/console/sign-out'] button")]);
  await page.waitForSelector("#api_key");
  res = await page.goto(`${BASE}/console`);
  await page.waitForSelector("#api_key");

  step = "page sizes";
  assert.deepEqual(foreign, [], "requests to another origin");
  for (const p of pageBytes) assert.ok(p.bytes < MAX_PAGE, `${p.url}: ${p.bytes} bytes, over 100 KB`);
  const biggest = pageBytes.reduce((a, b) => (b.bytes > a.bytes ? b : a), { bytes: 0 });
  console.log(`pages loaded: ${pageBytes.length}, largest ${biggest.bytes} bytes (${biggest.url})`);
  for (const a of artifacts) console.log(`artifact: ${a}`);
  console.log("browser test passed");
} catch (err) {
  console.error(`browser test failed at step "${step}": ${err && err.stack ? err.stack : err}`);
  for (const pg of context.pages()) {
    try {
      const path = join(ARTIFACTS, `failure-${context.pages().indexOf(pg)}.png`);
      await pg.screenshot({ path, fullPage: true });
      console.error(`failure screenshot: ${path} (${pg.url()})`);
    } catch { /* page gone */ }
  }
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
