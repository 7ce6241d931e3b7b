import { describe, expect, it } from 'vitest'
import { hasFlashback } from './dml-undo-phase.js'
import { main } from './main.js'

// Figure 7's baseline is MariaDB's mariadb-binlog --flashback; without it the bench leaves that figure out.
const flashbackHere = hasFlashback()

interface JsonFigure {
  id: string
  value: number
  baseline?: { value: number }
  ratio?: number
  spread?: { min: number; max: number; runs: number }
  verdict: string
}

describe('pnpm bench --quick --json', () => {
  it('runs end to end on a private server and prints one JSON object with every figure', async () => {
    const started = Date.now()
    let stdout = ''
    let stderr = ''
    const code = await main(['--quick', '--json'], {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
    })
    expect(code, stderr).toBe(0)
    expect(Date.now() - started).toBeLessThan(180_000)

    const report = JSON.parse(stdout) as {
      ok: boolean
      mode: string
      figures: JsonFigure[]
      checks: { id: string; ok: boolean; detail: string }[]
    }
    expect(stdout.trim().split('\n')).toHaveLength(1)
    expect(report.mode).toBe('quick')
    expect(report.ok).toBe(true)

    const ids = report.figures.map((figure) => figure.id)
    expect(ids).toEqual([
      '1.lag',
      '1.lagLastRow',
      '1.rowsPerSec',
      '2.endpoint',
      '2b.clusterCpu',
      '2c.paused',
      '3.dropUndo',
      '3.dropApply',
      '3.dropCpu',
      '4.rewind',
      '4.sizeRatio',
      '5.prepare',
      '5.oltp',
      '6.capture',
      '6.dropUndo',
      '7.resetMedian',
      '7.resetP95',
      '7.resetVsDump',
      ...(flashbackHere ? ['8.dmlUndo'] : []),
    ])
    for (const figure of report.figures) {
      expect(Number.isFinite(figure.value), figure.id).toBe(true)
      if (figure.baseline !== undefined) expect(Number.isFinite(figure.baseline.value), figure.id).toBe(true)
      if (figure.ratio !== undefined) expect(Number.isFinite(figure.ratio), figure.id).toBe(true)
      expect(['PASS', 'MISS', 'INFO']).toContain(figure.verdict)
    }
    for (const id of [
      '1.rowsPerSec',
      '2.endpoint',
      '3.dropUndo',
      '4.sizeRatio',
      '5.prepare',
      '5.oltp',
      '7.resetVsDump',
    ]) {
      expect(report.figures.find((figure) => figure.id === id)?.ratio, id).toBeGreaterThan(0)
    }
    // Repeated figures carry their spread, and the median ratio lies inside it.
    for (const id of ['2.endpoint', '3.dropUndo', ...(flashbackHere ? ['8.dmlUndo'] : [])]) {
      const figure = report.figures.find((f) => f.id === id)!
      expect(figure.spread?.runs, id).toBe(2)
      expect(figure.ratio, id).toBeGreaterThanOrEqual(figure.spread!.min)
      expect(figure.ratio, id).toBeLessThanOrEqual(figure.spread!.max)
    }
    for (const id of ['checksum.dropUndo', 'checksum.rewinds', ...(flashbackHere ? ['checksum.dmlUndo'] : [])]) {
      const check = report.checks.find((c) => c.id === id)
      expect(check?.ok, `${id}: ${check?.detail}`).toBe(true)
    }
    expect(report.checks.every((check) => check.ok)).toBe(true)
  }, 300_000)
})
