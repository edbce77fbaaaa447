/**
 * The web page in headless Chromium against a real three-node cluster: it
 * shows the three nodes and the master, runs a C program submitted through
 * the form and shows its output, and shows the new master within seconds of
 * the old one being killed. Saves test-output/screenshot.png (copy it to
 * docs/screenshot.png to update the README's picture).
 *
 * Needs /usr/bin/chromium (Debian's `chromium` package); skips without it.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import { ROOT, httpUrl, startNode, stopAll, tempDir, waitFor, type NodeProc } from '../helpers/procs.ts'

const CHROMIUM = '/usr/bin/chromium'
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) console.log(`skipping the browser test: ${CHROMIUM} is missing (apt-get install chromium)`)

const C_PROGRAM = `#include <stdio.h>

int main(void) {
    int n, sum = 0;
    while (scanf("%d", &n) == 1) sum += n;
    printf("sum from C: %d\\n", sum);
    return 0;
}
`

describe.skipIf(!haveChromium)('the web page', () => {
  let a: NodeProc
  let b: NodeProc
  let c: NodeProc
  let browser: BrowserContext
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    a = await startNode(['--priority', '10'])
    ;[b, c] = await Promise.all([startNode(['--priority', '5', '--peer', a.hostPort]), startNode(['--peer', a.hostPort, '--http', '0'])])
    await waitFor(async () => {
      const res = await fetch(new URL('api/nodes', httpUrl(c)))
      const s = await res.json() as { master: string, nodes: Array<{ up: boolean }> }
      return s.master === a.id && s.nodes.filter((n) => n.up).length === 3 ? true : undefined
    }, 20_000, 'a three-node cluster with A as master')
    const { chromium } = await import('playwright-core')
    browser = await chromium.launchPersistentContext(await tempDir('meshrun-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 960 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    })
    page = await browser.newPage()
    page.on('pageerror', (err) => { problems.push(`page error: ${err.message}`) })
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
    await page.goto(httpUrl(c))
  })

  afterAll(async () => {
    await browser?.close()
    await stopAll()
  })

  test('shows the three nodes and the master', async () => {
    await page.waitForFunction('document.querySelectorAll("[data-node]").length === 3', null, { timeout: 20_000 })
    await page.waitForSelector(`[data-node="${a.id}"][data-role="master"]`, { timeout: 20_000 })
    expect(await page.locator('[data-role="master"]').count()).toBe(1)
    expect(await page.getAttribute('#master', 'data-id')).toBe(a.id)
    // On a loaded machine a report can come late and a node show down for a moment: wait for all three.
    await page.waitForFunction('document.getElementById("nodes-up").textContent === "3 / 3"', null, { timeout: 10_000 })
    expect(await page.locator(`[data-node="${c.id}"] .badge.self`).count()).toBe(1)
    await page.waitForSelector(`[data-node="${a.id}"] .chart canvas`, { timeout: 10_000 })
  })

  test('runs a C program submitted through the form and shows its output', async () => {
    await page.selectOption('#language', 'c')
    expect(await page.inputValue('#filename')).toBe('main.c')
    await page.fill('#editor', C_PROGRAM)
    await page.fill('#stdin', '1 2 3\n4')
    await page.click('#run')
    await page.waitForFunction('document.querySelector("#output").textContent.includes("sum from C: 10")', null, { timeout: 30_000 })
    await page.waitForFunction('document.querySelector("#run-state").textContent.startsWith("✓ ok")', null, { timeout: 10_000 })
    expect(await page.textContent('#timer')).toMatch(/^\d+\.\d s$/)
    // The jobs list has it, and a click shows its output.
    await page.waitForFunction('document.querySelector("tr.job .status")?.textContent === "ok"', null, { timeout: 10_000 })
    await page.locator('tr.job').first().click()
    await page.waitForSelector('tr.detail pre', { timeout: 10_000 })
    expect(await page.textContent('tr.detail')).toContain('sum from C: 10')
  })

  test('shows the new master within a few seconds of the master being killed', async () => {
    const killed = Date.now()
    a.proc.kill('SIGKILL')
    // B has the higher priority of the two left; on a loaded machine C may win a round first.
    const shown = await page.waitForFunction(`(() => {
      const id = document.querySelector('#master').dataset.id
      return id !== '' && id !== ${JSON.stringify(a.id)} && document.querySelector('[data-node="' + id + '"][data-role="master"]') !== null ? id : false
    })()`, null, { timeout: 15_000, polling: 50 })
    const took = Date.now() - killed
    expect([b.id, c.id]).toContain(await shown.jsonValue())
    expect(took).toBeLessThan(10_000)
    await page.waitForSelector(`[data-node="${a.id}"][data-up="false"]`, { timeout: 10_000 }).catch(() => {})
    await page.waitForSelector('#events li .election', { timeout: 5000 })
    expect(await page.locator('[data-role="master"]').count()).toBe(1)
    console.log(`the page showed the new master ${took} ms after the old one was killed`)
    await page.waitForTimeout(1500)
    await mkdir(join(ROOT, 'docs'), { recursive: true })
    await mkdir(join(ROOT, 'test-output'), { recursive: true })
    await page.screenshot({ path: join(ROOT, 'test-output', 'screenshot.png'), fullPage: true })
    expect(problems).toEqual([])
  })
})
