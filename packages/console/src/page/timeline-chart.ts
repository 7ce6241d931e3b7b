// The timeline: the change-record rate (uPlot), DDL and marks as labelled lines, backtracks as arcs above it.
import uPlot from 'uplot'
import { clock, type Timeline } from './wire.js'

const CHART_HEIGHT = 200
/** The arcs' baseline in their lane; their labels take rows above them. */
const ARC_BASE = 78
const ARC_LABEL_ROWS = 2
const LABEL_ROWS = 3
const LABEL_ROW_PX = 22
const SVG = 'http://www.w3.org/2000/svg'
const COLORS = { rate: '#0969da', ddl: '#bc4c00', mark: '#8250df', arc: '#1a7f37', edge: '#818b98', pick: '#0969da' }

/** A label on the timeline was clicked: the moment it stands for (ms), and its key in the moments list. */
export type PickHandler = (ms: number, key?: string) => void

export class TimelineChart {
  readonly #chart: HTMLElement
  readonly #labels: HTMLElement
  readonly #arcs: HTMLElement
  readonly #onPick: PickHandler
  #plot: uPlot | undefined
  #timeline: Timeline | undefined
  #selected: number | undefined
  /** The user dragged to zoom in: live updates keep that range until a double-click. */
  #zoomed = false

  constructor(elements: { chart: HTMLElement; labels: HTMLElement; arcs: HTMLElement }, onPick: PickHandler) {
    this.#chart = elements.chart
    this.#labels = elements.labels
    this.#arcs = elements.arcs
    this.#onPick = onPick
    window.addEventListener('resize', () => this.#plot?.setSize({ width: this.#width(), height: CHART_HEIGHT }))
  }

  #width(): number {
    return Math.max(200, this.#chart.clientWidth)
  }

  /** Draws `timeline`, creating the chart on the first call. */
  update(timeline: Timeline): void {
    this.#timeline = timeline
    const data = rateSeries(timeline)
    if (this.#plot === undefined) this.#plot = this.#create(data)
    else this.#plot.setData(data, false)
    if (!this.#zoomed) this.#fit()
    else this.#plot.redraw(false)
  }

  #fit(): void {
    const [min, max] = this.#range()
    this.#plot!.setScale('x', { min, max })
  }

  /** Marks the moment a preview is showing (undefined: none). */
  select(ms: number | undefined): void {
    this.#selected = ms
    this.#plot?.redraw(false)
  }

  /** The x range in seconds: the window's left edge to now, with a little room on both sides. */
  #range(): [number, number] {
    const { earliestMicros, nowMicros } = this.#timeline!
    const pad = Math.max(1, (nowMicros - earliestMicros) / 1e6 / 40)
    return [earliestMicros / 1e6 - pad, nowMicros / 1e6 + pad]
  }

  #create(data: uPlot.AlignedData): uPlot {
    const plot = new uPlot(
      {
        width: this.#width(),
        height: CHART_HEIGHT,
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
        scales: {
          // Not auto: the range is the window (or what the user zoomed to), not the data's extent.
          x: { time: true, auto: false, range: (_u, min, max) => [min, max] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
        },
        series: [
          {},
          {
            label: 'change records / s',
            stroke: COLORS.rate,
            fill: 'rgba(9, 105, 218, 0.18)',
            width: 1.5,
            paths: uPlot.paths.stepped!({ align: 1 }),
            points: { show: false },
          },
        ],
        axes: [
          { space: 90, values: (_u, splits) => timeLabels(splits) },
          { label: 'change records / s', size: 60 },
        ],
        legend: { show: false },
        cursor: {
          drag: { x: true, y: false, dist: 5 },
          points: { show: false },
          bind: {
            dblclick: () => () => {
              this.#zoomed = false
              this.#fit()
              return null
            },
          },
        },
        hooks: {
          draw: [(u) => this.#draw(u)],
          setSelect: [
            (u) => {
              if (u.select.width > 0) this.#zoomed = true
            },
          ],
        },
      },
      data,
      this.#chart,
    )
    const [min, max] = this.#range()
    plot.setScale('x', { min, max })
    plot.over.addEventListener('click', () => {
      const left = plot.cursor.left
      if (left === undefined || left < 0) return
      this.#onPick(Math.round(plot.posToVal(left, 'x') * 1000))
    })
    return plot
  }

  /** Lines on the canvas, then the labels and arcs in the lanes above it, all at the chart's x positions. */
  #draw(u: uPlot): void {
    const timeline = this.#timeline!
    const ctx = u.ctx
    const { top, height } = u.bbox
    const x = (micros: number) => u.valToPos(micros / 1e6, 'x', true)
    const line = (at: number, color: string, dashed: boolean, width = 1) => {
      ctx.save()
      ctx.strokeStyle = color
      ctx.lineWidth = width * devicePixelRatio
      ctx.setLineDash(dashed ? [4 * devicePixelRatio, 3 * devicePixelRatio] : [])
      ctx.beginPath()
      ctx.moveTo(at, top)
      ctx.lineTo(at, top + height)
      ctx.stroke()
      ctx.restore()
    }
    // Before the window's left edge nothing can be reached: grey it out.
    const edge = x(timeline.earliestMicros)
    ctx.save()
    ctx.fillStyle = 'rgba(129, 139, 152, 0.15)'
    ctx.fillRect(u.bbox.left, top, Math.max(0, edge - u.bbox.left), height)
    ctx.restore()
    line(edge, COLORS.edge, true)
    for (const event of timeline.events) {
      if (event.kind === 'ddl') line(x(event.micros), COLORS.ddl, event.undone)
    }
    for (const mark of timeline.marks) line(x(mark.micros), COLORS.mark, false)
    if (this.#selected !== undefined) line(x(this.#selected * 1000), COLORS.pick, false, 2)
    this.#drawLanes(u)
  }

  #drawLanes(u: uPlot): void {
    const timeline = this.#timeline!
    const offset = u.over.offsetLeft
    const width = u.over.clientWidth
    const x = (micros: number) => offset + u.valToPos(micros / 1e6, 'x')
    const inside = (px: number) => px >= offset - 1 && px <= offset + width + 1
    const label = (text: string, kind: string, title: string, pick: () => void) => {
      const button = document.createElement('button')
      button.type = 'button'
      button.className = `marker ${kind}`
      button.textContent = text
      button.title = title
      // The moments list is the keyboard path; these are for the mouse.
      button.tabIndex = -1
      button.addEventListener('click', pick)
      return button
    }

    const points = [
      ...timeline.events
        .filter((event) => event.kind === 'ddl')
        .map((event) => ({
          micros: event.micros,
          text: event.label,
          kind: `ddl${event.undone ? ' undone' : ''}`,
          title: `${event.sql ?? ''}\n${event.time}${event.undone ? '\n(undone by a backtrack)' : ''}\nClick: the last moment before it`,
          ms: event.safeTo === null ? event.micros / 1000 : Date.parse(event.safeTo),
          key: `ddl-${event.lsn}`,
        })),
      ...timeline.marks.map((mark) => ({
        micros: mark.micros,
        text: mark.name,
        kind: 'mark',
        title: `mark ${mark.name}: ${new Date(mark.micros / 1000).toISOString()}`,
        ms: Math.floor(mark.micros / 1000),
        key: `mark-${mark.name}`,
      })),
    ].filter((point) => inside(x(point.micros)))
    const labelHeight = LABEL_ROWS * LABEL_ROW_PX + 14
    const leaders = svgOf(offset + width, labelHeight)
    const labels: HTMLElement[] = []
    for (const placed of packLabels(
      points.map((point) => ({ ...point, x: x(point.micros) })),
      LABEL_ROWS,
      offset,
      offset + width,
    )) {
      const top = placed.row * LABEL_ROW_PX
      leaders.append(
        leader(
          placed.left + placed.width / 2,
          top + 18,
          placed.x,
          labelHeight,
          COLORS[placed.item.kind.startsWith('ddl') ? 'ddl' : 'mark'],
        ),
      )
      const button = label(placed.item.text, placed.item.kind, placed.item.title, () =>
        this.#onPick(placed.item.ms, placed.item.key),
      )
      button.style.left = `${placed.left}px`
      button.style.top = `${top}px`
      labels.push(button)
    }
    this.#labels.style.height = `${labelHeight}px`
    this.#labels.replaceChildren(leaders, ...labels)

    const arcs = svgOf(offset + width, ARC_BASE + 4)
    arcs.innerHTML = `<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="${COLORS.arc}"/></marker></defs>`
    const clamp = (px: number) => Math.min(Math.max(px, offset), offset + width)
    const shapes = timeline.backtracks.map((arc, i) => {
      const from = clamp(x(arc.fromMicros))
      const to = clamp(x(arc.toMicros))
      const lift = Math.min(ARC_BASE - ARC_LABEL_ROWS * LABEL_ROW_PX - 6, 10 + Math.abs(from - to) / 4)
      const path = document.createElementNS(SVG, 'path')
      path.setAttribute(
        'd',
        `M${from},${ARC_BASE} C${from},${ARC_BASE - lift} ${to},${ARC_BASE - lift} ${to},${ARC_BASE}`,
      )
      path.setAttribute('fill', 'none')
      path.setAttribute('stroke', COLORS.arc)
      path.setAttribute('stroke-width', '2')
      path.setAttribute('marker-end', 'url(#arrow)')
      if (arc.status !== 'completed') path.setAttribute('stroke-dasharray', '5 3')
      arcs.append(path)
      return {
        arc,
        x: (from + to) / 2,
        apex: ARC_BASE - lift * 0.75,
        text: `backtrack ${i + 1} → ${clock(arc.toMicros / 1000)}${arc.status === 'completed' ? '' : ` (${arc.status})`}`,
      }
    })
    const arcLabels: HTMLElement[] = []
    for (const placed of packLabels(shapes, ARC_LABEL_ROWS, offset, offset + width)) {
      const { arc, text, apex } = placed.item
      const top = placed.row * LABEL_ROW_PX
      arcs.append(leader(placed.left + placed.width / 2, top + 18, placed.x, apex, COLORS.arc))
      const button = label(
        text,
        'arc',
        `backtrack ${arc.id}\nfrom ${new Date(arc.fromMicros / 1000).toISOString()}\nto ${new Date(arc.toMicros / 1000).toISOString()}\n${arc.status}\nClick: where it went`,
        () => this.#onPick(Math.floor(arc.toMicros / 1000), `to-${arc.id}`),
      )
      button.style.left = `${placed.left}px`
      button.style.top = `${top}px`
      arcLabels.push(button)
    }
    this.#arcs.replaceChildren(arcs, ...arcLabels)
  }
}

function svgOf(width: number, height: number): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('width', String(width))
  svg.setAttribute('height', String(height))
  return svg
}

/** A thin line from a label to the point on the timeline it stands for. */
function leader(x1: number, y1: number, x2: number, y2: number, color: string): SVGLineElement {
  const line = document.createElementNS(SVG, 'line')
  line.setAttribute('x1', String(x1))
  line.setAttribute('y1', String(y1))
  line.setAttribute('x2', String(x2))
  line.setAttribute('y2', String(y2))
  line.setAttribute('stroke', color)
  line.setAttribute('stroke-width', '1')
  line.setAttribute('opacity', '0.6')
  return line
}

let measure: CanvasRenderingContext2D | null | undefined

/** The width of a label with `text` (12 px font, padding and border). */
function labelWidth(text: string): number {
  measure ??= document.createElement('canvas').getContext('2d')
  if (measure === null) return text.length * 7 + 12
  measure.font = `12px ${getComputedStyle(document.body).fontFamily}`
  return Math.ceil(measure.measureText(text).width) + 12
}

/**
 * Lays labels out in rows without overlaps: in x order, alternating rows, each as close to its point as the labels
 * before and after it allow (a leader line joins it to its point). Labels that find no room are left out; every
 * one of them is also in the moments list.
 */
function packLabels<T extends { x: number; text: string }>(
  items: T[],
  rows: number,
  minX: number,
  maxX: number,
): { item: T; x: number; left: number; width: number; row: number }[] {
  const GAP = 6
  const placed: { item: T; x: number; left: number; width: number; row: number }[] = []
  const sorted = [...items].sort((a, b) => a.x - b.x)
  for (let row = 0; row < rows; row++) {
    const inRow = sorted
      .filter((_item, i) => i % rows === row)
      .map((item) => {
        const width = Math.min(labelWidth(item.text), 256)
        return { item, x: item.x, width, left: item.x - width / 2, row }
      })
    // Push right past the previous label, then back left from the right edge past the next one.
    let right = minX - GAP
    for (const label of inRow) {
      label.left = Math.max(label.left, right + GAP)
      right = label.left + label.width
    }
    let limit = maxX + GAP
    for (const label of [...inRow].reverse()) {
      label.left = Math.min(label.left, limit - GAP - label.width)
      limit = label.left
    }
    placed.push(...inRow.filter((label) => label.left >= minX - 40))
  }
  return placed
}
/** The rate as uPlot data: one point per interval from the window's left edge to now, zero where nothing changed. */
function rateSeries(timeline: Timeline): uPlot.AlignedData {
  const interval = timeline.intervalMicros
  const rate = new Map(timeline.rate)
  const xs: number[] = []
  const ys: number[] = []
  for (let at = Math.floor(timeline.earliestMicros / interval) * interval; at <= timeline.nowMicros; at += interval) {
    xs.push(at / 1e6)
    ys.push(rate.get(at) ?? 0)
  }
  return [xs, ys]
}

/** Axis labels in UTC: `HH:MM:SS` within a day, with the date when the splits span days. */
function timeLabels(splits: number[]): string[] {
  const span = (splits.at(-1) ?? 0) - (splits[0] ?? 0)
  return splits.map((seconds) => {
    const iso = new Date(seconds * 1000).toISOString()
    if (span > 86_400) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`
    return splits.every((s) => s % 60 === 0) ? iso.slice(11, 16) : iso.slice(11, 19)
  })
}
