import { describe, expect, it } from 'vitest'
import { main } from './main.js'

interface JsonFigure {
  id: string
  value: number
  baseline?: { value: number }
  ratio?: number
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
    expect(Date.now() - started).toBeLessThan(90_000)

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
      '2.tps',
      '3.dropUndo',
      '4.rewind',
      '4.sizeRatio',
      '5.prepare',
      '5.oltp',
      '6.capture',
      '6.dropUndo',
      '7.resetMedian',
      '7.resetP95',
      '7.resetVsDump',
    ])
    for (const figure of report.figures) {
      expect(Number.isFinite(figure.value), figure.id).toBe(true)
      if (figure.baseline !== undefined) expect(Number.isFinite(figure.baseline.value), figure.id).toBe(true)
      if (figure.ratio !== undefined) expect(Number.isFinite(figure.ratio), figure.id).toBe(true)
      expect(['PASS', 'MISS', 'INFO']).toContain(figure.verdict)
    }
    for (const id of ['1.rowsPerSec', '2.tps', '3.dropUndo', '4.sizeRatio', '5.prepare', '5.oltp', '7.resetVsDump']) {
      expect(report.figures.find((figure) => figure.id === id)?.ratio, id).toBeGreaterThan(0)
    }
    const dropUndo = report.checks.find((check) => check.id === 'checksum.dropUndo')
    expect(dropUndo?.ok, dropUndo?.detail).toBe(true)
    expect(report.checks.every((check) => check.ok)).toBe(true)
  }, 120_000)
})
