import type { BacktrackOutcome } from '../simulator-engine.js'
import type { ApiBacktrack } from './api-backtrack.js'

/**
 * One line on where an undo's time went: the engine's phases as it timed them, and what remains of the time the
 * user waited (the request, the status polling's granularity).
 */
export function describePhases(undo: ApiBacktrack, outcome: BacktrackOutcome): string {
  const phases = outcome.phases ?? {}
  const engineMillis = Object.values(phases).reduce((sum, ms) => sum + ms, 0)
  const parts = Object.entries(phases).map(([name, ms]) => `${name} ${Math.round(ms)}`)
  parts.push(`request+polling ${Math.round(undo.millis - engineMillis)} (${undo.polls} polls)`)
  return `${parts.join(', ')} ms`
}
