// The console page: the cluster, its timeline, and a moment's preview with the backtrack button. Polls the JSON
// routes so it stays current without a reload.
import { TimelineChart } from './timeline-chart.js'
import {
  call,
  clock,
  duration,
  rdsTime,
  type BacktrackRecord,
  type ClusterView,
  type Preview,
  type Timeline,
} from './wire.js'

const API = 'api/'
const POLL_MS = 2000
const POLL_BUSY_MS = 500
/** The moments list shows this many, newest first kept. */
const MAX_MOMENTS = 200

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T

interface Moment {
  key: string
  ms: number
  text: string
}

const state: {
  cluster?: ClusterView
  timeline?: Timeline
  selected?: { ms: number; key?: string }
  preview?: Preview
  watching?: string
  momentsSignature: string
} = { momentsSignature: '' }

const chart = new TimelineChart(
  { chart: byId('chart'), labels: byId('labels-lane'), arcs: byId('arcs-lane') },
  (ms, key) => void select(ms, key),
)

function text(tag: string, content: string, className?: string): HTMLElement {
  const element = document.createElement(tag)
  element.textContent = content
  if (className !== undefined) element.className = className
  return element
}

/** A command with a button that copies it. */
function command(line: string, name: string): HTMLElement {
  const row = document.createElement('div')
  row.className = 'command'
  const code = text('code', line)
  const copy = text('button', 'Copy')
  ;(copy as HTMLButtonElement).type = 'button'
  copy.setAttribute('aria-label', `Copy the ${name} command`)
  const copyLine = async () => {
    try {
      await navigator.clipboard.writeText(line)
      copy.textContent = 'Copied'
    } catch {
      // No clipboard (e.g. not a secure context): select it for Ctrl-C.
      getSelection()?.selectAllChildren(code)
      copy.textContent = 'Selected'
    }
    setTimeout(() => (copy.textContent = 'Copy'), 1500)
  }
  copy.addEventListener('click', () => void copyLine())
  row.append(code, copy)
  return row
}

function renderCluster(cluster: ClusterView): void {
  byId('cluster-name').textContent = cluster.clusterIdentifier
  document.title = `${cluster.clusterIdentifier} · backtrack console`
  const status = byId('cluster-status')
  status.textContent = cluster.status
  status.className = `status ${cluster.status}`
  const facts: [string, string][] = [
    ['Status', cluster.status],
    [
      'Target backtrack window',
      cluster.window.targetSeconds === 0 ? 'disabled' : duration(cluster.window.targetSeconds),
    ],
    ['Actual backtrack window', duration(cluster.window.actualSeconds)],
    ['EarliestBacktrackTime', cluster.window.earliestBacktrackTime ?? '—'],
    ['Change records', cluster.changeRecords.toLocaleString('en-US')],
    ['Capture lag', `${cluster.captureLagMillis} ms`],
    ['Server', `${cluster.serverVersion} (${cluster.source})`],
    ['Client sessions', String(cluster.connections.open)],
    ['RDS endpoint', `${cluster.rdsEndpoint} (${cluster.region})`],
    ['Data dir', cluster.dataDir],
  ]
  byId('cluster-facts').replaceChildren(
    ...facts.map(([term, value]) => {
      const pair = document.createElement('div')
      pair.append(text('dt', term), text('dd', value))
      return pair
    }),
  )
  const endpoints = byId('endpoints')
  const children: HTMLElement[] = []
  for (const endpoint of cluster.endpoints) {
    children.push(
      text(
        'p',
        `${endpoint.role === 'writer' ? 'Writer' : 'Reader'} endpoint ${endpoint.host}:${endpoint.port} — user ${endpoint.user}, database ${endpoint.database}`,
      ),
      command(endpoint.connect, `${endpoint.role} mysql`),
    )
    // Passwords never travel over the console's routes: the one `backtrack up` printed ($DBPASS) is asked for.
    children.push(
      text('p', 'Password: $DBPASS from `backtrack up` (also in cluster.json); the console never sends it.'),
    )
  }
  children.push(text('h3', 'AWS CLI'), command(cluster.commands.describe, 'describe-db-clusters'))
  // Re-rendering every poll would steal focus from a Copy button; only when something changed.
  const signature = JSON.stringify([cluster.endpoints, cluster.commands])
  if (endpoints.dataset['signature'] !== signature) {
    endpoints.dataset['signature'] = signature
    endpoints.replaceChildren(...children)
  }
}

function momentsOf(timeline: Timeline): Moment[] {
  const moments: Moment[] = []
  for (const event of timeline.events) {
    if (event.kind !== 'ddl' || event.safeTo === null) continue
    moments.push({
      key: `ddl-${event.lsn}`,
      ms: Date.parse(event.safeTo),
      text: `right before ${event.label}${event.undone ? ' (undone)' : ''}`,
    })
  }
  for (const mark of timeline.marks) {
    moments.push({ key: `mark-${mark.name}`, ms: Math.floor(mark.micros / 1000), text: `mark ${mark.name}` })
  }
  timeline.backtracks.forEach((arc, i) => {
    moments.push({ key: `to-${arc.id}`, ms: Math.floor(arc.toMicros / 1000), text: `where backtrack ${i + 1} went` })
    if (arc.status === 'completed') {
      moments.push({
        key: `from-${arc.id}`,
        ms: Math.floor(arc.fromMicros / 1000),
        text: `right before backtrack ${i + 1} (undoes it)`,
      })
    }
  })
  return moments.sort((a, b) => a.ms - b.ms || a.key.localeCompare(b.key)).slice(-MAX_MOMENTS)
}

/** The moments as a list of buttons: one tab stop, arrow keys move between them (a roving tabindex). */
function renderMoments(timeline: Timeline): void {
  const moments = momentsOf(timeline)
  const signature = JSON.stringify(moments) + (state.selected?.key ?? '')
  if (signature === state.momentsSignature) return
  state.momentsSignature = signature
  const list = byId('moments')
  const focused = (document.activeElement as HTMLElement | null)?.dataset['key']
  const items: HTMLElement[] = moments.map((moment) => {
    const item = document.createElement('li')
    const button = document.createElement('button')
    button.type = 'button'
    button.dataset['key'] = moment.key
    button.setAttribute('aria-pressed', String(state.selected?.key === moment.key))
    button.append(text('span', clock(moment.ms), 'time'), text('span', moment.text))
    button.addEventListener('click', () => void select(moment.ms, moment.key))
    item.append(button)
    return item
  })
  if (items.length === 0) items.push(text('li', 'No DDL, marks or backtracks yet. Click the graph to pick any moment.'))
  list.replaceChildren(...items)
  const buttons = [...list.querySelectorAll('button')]
  const current =
    buttons.find((b) => b.dataset['key'] === focused) ??
    buttons.find((b) => b.getAttribute('aria-pressed') === 'true') ??
    buttons[0]
  for (const button of buttons) button.tabIndex = button === current ? 0 : -1
  if (focused !== undefined) current?.focus()
}

byId('moments').addEventListener('keydown', (event) => {
  const buttons = [...byId('moments').querySelectorAll('button')]
  const index = buttons.indexOf(document.activeElement as HTMLButtonElement)
  if (index === -1) return
  const next =
    event.key === 'ArrowDown' || event.key === 'ArrowRight'
      ? Math.min(index + 1, buttons.length - 1)
      : event.key === 'ArrowUp' || event.key === 'ArrowLeft'
        ? Math.max(index - 1, 0)
        : event.key === 'Home'
          ? 0
          : event.key === 'End'
            ? buttons.length - 1
            : undefined
  if (next === undefined) return
  event.preventDefault()
  buttons[index]!.tabIndex = -1
  buttons[next]!.tabIndex = 0
  buttons[next]!.focus()
})

/** Shows what a backtrack to `ms` would undo. */
async function select(ms: number, key?: string): Promise<void> {
  state.selected = { ms, ...(key === undefined ? {} : { key }) }
  chart.select(ms)
  if (state.timeline !== undefined) renderMoments(state.timeline)
  const section = byId('preview')
  section.hidden = false
  // What the last backtrack did is old news once another moment is picked (unless it is still running).
  if (state.watching === undefined) byId('backtrack-progress').textContent = ''
  byId('preview-time').textContent = rdsTime(ms)
  await refreshPreview()
  if (key === undefined) section.scrollIntoView({ block: 'nearest' })
}

async function refreshPreview(): Promise<void> {
  const selected = state.selected
  if (selected === undefined) return
  const error = byId('preview-error')
  const body = byId('preview-body')
  try {
    const preview = await call<Preview>(`${API}preview?to=${encodeURIComponent(rdsTime(selected.ms))}`)
    if (state.selected !== selected) return // another moment was picked meanwhile
    state.preview = preview
    error.hidden = true
    body.hidden = false
    byId('preview-time').textContent = preview.to
    byId('preview-lines').replaceChildren(...preview.lines.map((line) => text('li', line)))
    const commands = byId('preview-commands')
    const signature = JSON.stringify(preview.commands)
    if (commands.dataset['signature'] !== signature) {
      commands.dataset['signature'] = signature
      commands.replaceChildren(
        command(preview.commands.backtrack, 'backtrack to'),
        command(preview.commands.aws, 'aws rds backtrack-db-cluster'),
      )
    }
  } catch (failure) {
    if (state.selected !== selected) return
    state.preview = undefined
    error.textContent = (failure as Error).message
    error.hidden = false
    body.hidden = true
  }
}

const dialog = byId<HTMLDialogElement>('confirm')

byId('backtrack-button').addEventListener('click', () => {
  const preview = state.preview
  if (preview === undefined) return
  byId('confirm-cluster').textContent = state.cluster?.clusterIdentifier ?? 'the cluster'
  byId('confirm-time').textContent = preview.to
  byId('confirm-lines').replaceChildren(...preview.lines.map((line) => text('li', line)))
  dialog.returnValue = ''
  dialog.showModal()
})

// Escape closes the dialog with no return value; only the Backtrack button confirms.
dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'confirm' && state.preview !== undefined) void backtrack(state.preview.to)
  else byId('backtrack-button').focus()
})

async function backtrack(to: string): Promise<void> {
  const progress = byId('backtrack-progress')
  const button = byId<HTMLButtonElement>('backtrack-button')
  button.disabled = true
  progress.textContent = `Requesting a backtrack to ${to}…`
  try {
    const record = await call<BacktrackRecord>(`${API}backtrack?to=${encodeURIComponent(to)}`, {
      method: 'POST',
      headers: { 'x-backtrack-console': '1' },
    })
    state.watching = record.BacktrackIdentifier
    progress.textContent = `Backtrack ${record.BacktrackIdentifier} to ${record.BacktrackTo}: ${record.Status}`
    schedule(0)
  } catch (failure) {
    progress.textContent = `Backtrack refused: ${(failure as Error).message}`
    button.disabled = false
  }
}

function watchProgress(timeline: Timeline): void {
  if (state.watching === undefined) return
  const arc = timeline.backtracks.find((candidate) => candidate.id === state.watching)
  if (arc === undefined) return
  const done = arc.status === 'completed' || arc.status === 'failed'
  byId('backtrack-progress').textContent =
    `Backtrack ${arc.id} to ${rdsTime(Math.floor(arc.toMicros / 1000))}: ${arc.status}` +
    (arc.status === 'completed' ? '. The cluster is back at that moment.' : '')
  if (done) {
    state.watching = undefined
    byId<HTMLButtonElement>('backtrack-button').disabled = false
  }
}

let timer: ReturnType<typeof setTimeout> | undefined
let lastTimeline = ''

function schedule(ms: number): void {
  if (timer !== undefined) clearTimeout(timer)
  timer = setTimeout(() => void poll(), ms)
}

async function poll(): Promise<void> {
  try {
    const [cluster, timeline] = await Promise.all([
      call<ClusterView>(`${API}cluster`),
      call<Timeline>(`${API}timeline`),
    ])
    state.cluster = cluster
    state.timeline = timeline
    renderCluster(cluster)
    chart.update(timeline)
    renderMoments(timeline)
    watchProgress(timeline)
    // What a backtrack would undo changes with every backtrack and DDL: keep the preview true.
    const signature = JSON.stringify([timeline.events.length, timeline.backtracks, cluster.status])
    if (signature !== lastTimeline) {
      lastTimeline = signature
      if (cluster.status === 'available') await refreshPreview()
    }
    byId('updated').textContent = `updated ${clock(Date.now())} UTC`
  } catch (failure) {
    const status = byId('cluster-status')
    status.textContent = 'unreachable'
    status.className = 'status unreachable'
    byId('updated').textContent = (failure as Error).message
  }
  const busy = state.watching !== undefined || state.cluster?.status === 'backtracking'
  schedule(busy ? POLL_BUSY_MS : POLL_MS)
}

void poll()
