import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectMysql, type SqlConnection } from '@backtrack/aws-adapter'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The lab on a local cluster started by the built CLI, as a user runs it; then its console in a real browser.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const MAIN = join(ROOT, 'packages/cli/dist/main.js')
const CHROMIUM = '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
/** Where to save screenshots (docs/console.png is made this way); unset: none. */
const SCREENSHOTS = process.env['CONSOLE_SCREENSHOTS']
const ROWS = 2000

interface Run {
  code: number
  stdout: string
  stderr: string
}

function backtrack(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env } },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    )
  })
}

interface UpInfo {
  console: string
  sql: { host: string; port: number; user: string; password: string }
}

let dataDir: string
let info: UpInfo
let originalChecksum: string

async function sql<T = Record<string, unknown>>(statement: string): Promise<T[]> {
  // Backtracks close every client connection, as on Aurora: a fresh one each time.
  const connection: SqlConnection = await connectMysql({ ...info.sql, database: 'mylab' })
  try {
    return (await connection.query(statement)) as T[]
  } finally {
    await connection.close()
  }
}
const checksum = async () => String((await sql('CHECKSUM TABLE sbtest1'))[0]?.['Checksum'])

beforeAll(async () => {
  execFileSync('pnpm', ['exec', 'tsc', '-b'], { cwd: ROOT, stdio: 'inherit' })
  execFileSync('node', ['bundle.mjs'], { cwd: join(ROOT, 'packages/console'), stdio: 'inherit' })
  dataDir = mkdtempSync(join(tmpdir(), 'backtrack-console-'))
  const up = await backtrack(['up', '--detach', '--data-dir', dataDir, '--json'])
  expect(up.code, up.stderr).toBe(0)
  info = JSON.parse(up.stdout) as UpInfo
  const lab = await backtrack([
    'run',
    'scenarios/aurora-backtrack-lab.yaml',
    ...['--var', `table_size=${ROWS}`, '--data-dir', dataDir, '--loader', 'builtin', '--json'],
  ])
  expect(JSON.parse(lab.stdout)).toMatchObject({ passed: true })
  originalChecksum = await checksum()
}, 300_000)

afterAll(async () => {
  if (dataDir === undefined) return
  await backtrack(['down', '--data-dir', dataDir])
  rmSync(dataDir, { recursive: true, force: true })
}, 120_000)

describe('the console of a local cluster that ran the lab', () => {
  it('is where `up --json` and `backtrack console` say', async () => {
    expect(info.console).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console\/$/)
    // No xdg-open on this PATH: the URL is printed for the user to open.
    const opened = await backtrack(['console', '--data-dir', dataDir], { PATH: '/nonexistent' })
    expect(opened.code, opened.stderr).toBe(0)
    expect(opened.stdout.trim()).toBe(info.console)
    expect(opened.stderr).toContain('open this URL yourself')
    const page = await fetch(info.console)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<script src="console.js"></script>')
  })

  it('answers the timeline and a preview over HTTP: the DROP, both backtracks, what going back would undo', async () => {
    const timeline = (await (await fetch(`${info.console}api/timeline`)).json()) as {
      events: { label: string; undone: boolean }[]
      backtracks: { status: string }[]
      marks: { name: string }[]
    }
    expect(timeline.events).toContainEqual(expect.objectContaining({ label: 'DROP TABLE sbtest1', undone: true }))
    expect(timeline.backtracks.map((arc) => arc.status)).toEqual(['completed', 'completed'])
    expect(timeline.marks.map((mark) => mark.name)).toEqual(['before-drop', 'after-drop'])
    const preview = (await (await fetch(`${info.console}api/preview?to=after-drop`)).json()) as { lines: string[] }
    expect(preview.lines).toContain(`mylab.sbtest1: dropped (it did not exist then; ${ROWS} rows now)`)
    // The same preview, in the terminal.
    const dryRun = await backtrack(['to', 'after-drop', '--dry-run', '--data-dir', dataDir])
    for (const line of preview.lines) expect(dryRun.stdout).toContain(line)
  })
})

describe.skipIf(!HAVE_CHROMIUM)(
  HAVE_CHROMIUM ? 'in Chromium' : `in Chromium (skipped: no ${CHROMIUM}; apt-get install chromium)`,
  () => {
    let context: BrowserContext
    let page: Page
    let profile: string
    const errors: string[] = []

    beforeAll(async () => {
      profile = mkdtempSync(join(tmpdir(), 'backtrack-chromium-'))
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1400, height: 1000 },
        // Without the background-networking flags Chromium keeps calling Google's services on a closed network.
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      })
      page = context.pages()[0] ?? (await context.newPage())
      page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console.error: ${message.text()}`)
      })
      await page.goto(info.console)
    }, 60_000)

    afterAll(async () => {
      await context?.close()
      if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
    })

    const moments = () => page.locator('#moments')
    const focused = async () => String(await page.evaluate("document.activeElement?.textContent ?? ''"))

    /** Tabs from the top of the page into the moments list, then arrows to the moment whose text matches. */
    async function focusMoment(text: RegExp): Promise<void> {
      await page.locator('body').focus()
      for (
        let i = 0;
        i < 30 && !(await moments().evaluate((list) => list.contains(list.ownerDocument.activeElement)));
        i++
      ) {
        await page.keyboard.press('Tab')
      }
      await page.keyboard.press('Home')
      for (let i = 0; i < 30 && !text.test(await focused()); i++) await page.keyboard.press('ArrowDown')
      expect(await focused()).toMatch(text)
    }

    async function backtrackFromTheButton(): Promise<void> {
      const to = await page.locator('#preview-time').textContent()
      await page.getByRole('button', { name: 'Backtrack to here…' }).click()
      const dialog = page.getByRole('dialog')
      await expect.poll(() => dialog.isVisible()).toBe(true)
      await dialog.getByRole('button', { name: 'Backtrack', exact: true }).click()
      await expect
        .poll(() => page.locator('#backtrack-progress').textContent(), { timeout: 60_000 })
        .toContain(` to ${to}: completed. The cluster is back at that moment.`)
    }

    it('shows the cluster, the DROP and both backtracks on the timeline', async () => {
      await expect.poll(() => page.locator('#cluster-status').textContent()).toBe('available')
      await expect.poll(() => page.locator('#cluster-facts').textContent()).toContain('EarliestBacktrackTime')
      expect(await page.locator('#endpoints').textContent()).toContain(`mysql -h127.0.0.1 -P${info.sql.port}`)
      const labels = page.locator('#labels-lane')
      await expect.poll(() => labels.getByText('DROP TABLE sbtest1', { exact: true }).isVisible()).toBe(true)
      expect(await labels.getByText('before-drop', { exact: true }).isVisible()).toBe(true)
      expect(
        await page
          .locator('#arcs-lane')
          .getByText(/^backtrack 1 → /)
          .isVisible(),
      ).toBe(true)
      expect(
        await page
          .locator('#arcs-lane')
          .getByText(/^backtrack 2 → /)
          .isVisible(),
      ).toBe(true)
    })

    it('a page from another origin cannot change the cluster: its form POST to the RDS endpoint gets AccessDenied', async () => {
      const api = new URL('/', info.console).href
      const window = async () => {
        const response = await fetch(`${api}?Action=DescribeDBClusters&Version=2014-10-31`)
        return /<BacktrackWindow>(\d+)<\/BacktrackWindow>/.exec(await response.text())?.[1]
      }
      const before = await window()
      expect(before).toBeDefined()
      expect(before).not.toBe('60')
      const fields = {
        Action: 'ModifyDBCluster',
        Version: '2014-10-31',
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackWindow: '60',
        ApplyImmediately: 'true',
      }
      const inputs = Object.entries(fields)
        .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
        .join('')
      // Another web server on this machine: another port is another origin (and the same site).
      const elsewhere = createServer((_request, response) => {
        response.setHeader('content-type', 'text/html; charset=utf-8')
        response.end(`<!doctype html><form id="f" method="POST" action="${api}">${inputs}</form>`)
      })
      await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve))
      const other = await context.newPage()
      try {
        const address = elsewhere.address() as { port: number }
        await other.goto(`http://127.0.0.1:${address.port}/`)
        const answered = other.waitForResponse((response) => response.url() === api)
        await other.evaluate("document.getElementById('f').submit()")
        const response = await answered
        expect(response.status()).toBe(403)
        const body = await response.text()
        expect(body).toContain('<Code>AccessDenied</Code>')
        expect(body).toContain(`http://127.0.0.1:${address.port}`)
      } finally {
        await other.close()
        elsewhere.close()
      }
      expect(await window()).toBe(before)
    })

    it('previews a moment by keyboard; Escape closes the confirmation and nothing happens', async () => {
      await focusMoment(/mark after-drop/)
      await page.keyboard.press('Enter')
      const lines = page.locator('#preview-lines')
      await expect
        .poll(() => lines.textContent())
        .toContain(`mylab.sbtest1: dropped (it did not exist then; ${ROWS} rows now)`)
      expect(await lines.textContent()).toMatch(/redoes DROP TABLE `sbtest1`/)
      const commands = await page.locator('#preview-commands').textContent()
      expect(commands).toMatch(/backtrack to \S+Z --data-dir \S+ --wait/)
      expect(commands).toMatch(
        /aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster --backtrack-to "\S+Z" --endpoint-url http:\/\/127\.0\.0\.1:\d+/,
      )
      if (SCREENSHOTS !== undefined) await page.screenshot({ path: join(SCREENSHOTS, 'console.png'), fullPage: true })

      await page.getByRole('button', { name: 'Backtrack to here…' }).focus()
      await page.keyboard.press('Enter')
      await expect.poll(() => page.getByRole('dialog').isVisible()).toBe(true)
      expect(await page.getByRole('dialog').textContent()).toContain('Every client connection is closed')
      await page.keyboard.press('Escape')
      await expect.poll(() => page.getByRole('dialog').isVisible()).toBe(false)
      expect(await focused()).toBe('Backtrack to here…')
      expect(await checksum()).toBe(originalChecksum)
    })

    it('backtracks from the button: the table goes, then comes back with its rows', async () => {
      await backtrackFromTheButton()
      expect(await sql("SHOW TABLES LIKE 'sbtest1'")).toEqual([])

      await focusMoment(/right before DROP TABLE sbtest1/)
      await page.keyboard.press('Enter')
      await expect
        .poll(() => page.locator('#preview-lines').textContent())
        .toContain(`mylab.sbtest1: comes back (${ROWS} rows)`)
      await backtrackFromTheButton()
      expect(Number((await sql('SELECT count(*) AS n FROM sbtest1'))[0]?.['n'])).toBe(ROWS)
      expect(await checksum()).toBe(originalChecksum)
      await expect
        .poll(() =>
          page
            .locator('#arcs-lane')
            .getByText(/^backtrack 4 → /)
            .isVisible(),
        )
        .toBe(true)
    }, 120_000)

    it('is readable at 800 and 1400 px wide, without page errors', async () => {
      for (const width of [800, 1400]) {
        await page.setViewportSize({ width, height: 1000 })
        await expect.poll(() => page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width)
        for (const selector of ['#timeline', '#preview-commands', '#cluster-facts']) {
          const box = await page.locator(selector).boundingBox()
          expect(box, selector).not.toBeNull()
          expect(box!.x + box!.width, `${selector} at ${width} px`).toBeLessThanOrEqual(width)
        }
        expect(await page.locator('#labels-lane').getByText('DROP TABLE sbtest1', { exact: true }).isVisible()).toBe(
          true,
        )
        if (SCREENSHOTS !== undefined)
          await page.screenshot({ path: join(SCREENSHOTS, `console-${width}.png`), fullPage: true })
      }
      expect(errors).toEqual([])
    })
  },
)
