import type { Tag } from '@aws-sdk/client-rds'
import { BacktrackError, SIMULATED_CLUSTER_TAG } from '@backtrack/core'

/** The tag that marks a real cluster as a testbed that backtrack may rewind without asking. */
const TESTBED_TAG = { key: 'backtrack-testbed', value: 'true' } as const

/**
 * True when `endpointUrl` names this machine. Only conveniences follow from it (default region and credentials, the
 * exact-mark route); whether a backtrack is safe is asked of the endpoint ({@link isSimulatedCluster}).
 */
export function isLoopbackEndpoint(endpointUrl: string | undefined): boolean {
  if (endpointUrl === undefined || endpointUrl === '') return false
  let hostname: string
  try {
    hostname = new URL(endpointUrl).hostname.toLowerCase()
  } catch {
    return false
  }
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
  return (
    bare === 'localhost' ||
    bare.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(bare) ||
    bare === '::1' ||
    bare === '::ffff:127.0.0.1'
  )
}

/**
 * True when a cluster's tags say it is the simulator's: `aws:backtrack:simulated=true`. AWS reserves `aws:` keys (no
 * user can add one to a real resource), so real RDS never answers it, whatever address it is reached through.
 */
export function isSimulatedCluster(tags: readonly Tag[] | undefined): boolean {
  return (tags ?? []).some((tag) => tag.Key === SIMULATED_CLUSTER_TAG.Key && tag.Value === SIMULATED_CLUSTER_TAG.Value)
}

export function hasTestbedTag(tags: readonly Tag[] | undefined): boolean {
  return (tags ?? []).some((tag) => tag.Key === TESTBED_TAG.key && tag.Value?.toLowerCase() === TESTBED_TAG.value)
}

/** The refusal a live backtrack gets without the tag or a confirmation; it says exactly how to opt in. */
export function liveBacktrackNotConfirmed(clusterIdentifier: string, clusterArn: string): BacktrackError {
  const resource = clusterArn === '' ? `<arn of ${clusterIdentifier}>` : clusterArn
  return new BacktrackError(
    'LiveBacktrackNotConfirmed',
    `Refusing to backtrack the live Aurora cluster ${clusterIdentifier}: it is not tagged ` +
      `${TESTBED_TAG.key}=${TESTBED_TAG.value}. A backtrack rewinds the whole cluster in place and drops its ` +
      `open connections. To opt in, tag the cluster: aws rds add-tags-to-resource --resource-name ${resource} ` +
      `--tags Key=${TESTBED_TAG.key},Value=${TESTBED_TAG.value} — or confirm this one run with ` +
      `--yes-really-backtrack-live (confirmLive: true).`,
  )
}
