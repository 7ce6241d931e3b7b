import { randomUUID } from 'node:crypto'
import { BacktrackError } from '@backtrack/core'

/** An RDS tag. */
export interface Tag {
  Key: string
  Value: string
}

/** What RDS keeps about a DB instance of a cluster. */
export interface InstanceRecord {
  identifier: string
  clusterIdentifier: string
  instanceClass: string
  availabilityZone: string
  promotionTier: number
  /** ISO 8601. */
  createdAt: string
  /** The instance's own endpoint. */
  address: string
  port: number
  /** The writer is the cluster's first instance; every other one is a reader. */
  writer: boolean
  status: 'creating' | 'available' | 'deleting'
  tags: Tag[]
  autoMinorVersionUpgrade: boolean
  publiclyAccessible: boolean
}

/** What RDS keeps about a cluster besides what its engine describes. */
export interface ClusterRecord {
  identifier: string
  tags: Tag[]
  /** Clones share their source's; a new or fully copied cluster has its own. */
  cloneGroupId: string
  /** Host of the reader endpoint; the writer's when the cluster has no reader. */
  readerAddress?: string
  deletionProtection: boolean
  copyTagsToSnapshot: boolean
  backupRetentionPeriod: number
  preferredBackupWindow: string
  preferredMaintenanceWindow: string
  /** The version the user asked for (the simulator's server is MariaDB or MySQL whatever it says). */
  engineVersion?: string
}

interface CatalogData {
  clusters: Record<string, ClusterRecord>
  instances: Record<string, InstanceRecord>
}

/** Where a catalog keeps its data between runs (a JSON file, for a local cluster). */
export interface CatalogStore {
  load(): unknown
  save(data: unknown): void
}

const DEFAULT_CLUSTER_RECORD = {
  deletionProtection: false,
  copyTagsToSnapshot: false,
  backupRetentionPeriod: 1,
  preferredBackupWindow: '07:00-07:30',
  preferredMaintenanceWindow: 'sun:08:00-sun:08:30',
} as const

/** RDS allows 50 tags per resource. */
export const MAX_TAGS = 50

/** Whether a tag key is reserved for AWS (`aws:`), which users can neither add nor remove. */
export function isSystemTagKey(key: string): boolean {
  return key.toLowerCase().startsWith('aws:')
}

/**
 * The RDS-level records of one endpoint's clusters and instances: tags, instances, clone groups, deletion
 * protection, windows. The endpoint reads and writes it; a registry adds what it starts and stops (servers, SQL
 * endpoints). Every change is saved at once through the store.
 */
export class RdsCatalog {
  readonly #store: CatalogStore | undefined
  readonly #data: CatalogData

  constructor(store?: CatalogStore) {
    this.#store = store
    const loaded = store?.load() as Partial<CatalogData> | undefined
    this.#data = {
      clusters: typeof loaded?.clusters === 'object' && loaded.clusters !== null ? { ...loaded.clusters } : {},
      instances: typeof loaded?.instances === 'object' && loaded.instances !== null ? { ...loaded.instances } : {},
    }
  }

  #save(): void {
    this.#store?.save(this.#data)
  }

  cluster(identifier: string): ClusterRecord | undefined {
    return this.#data.clusters[identifier]
  }

  /** The cluster's record, created with defaults (its own clone group) when it has none. */
  ensureCluster(identifier: string, initial: Partial<ClusterRecord> = {}): ClusterRecord {
    const existing = this.#data.clusters[identifier]
    if (existing !== undefined) return existing
    const record: ClusterRecord = {
      identifier,
      tags: [],
      cloneGroupId: randomUUID(),
      ...DEFAULT_CLUSTER_RECORD,
      ...initial,
    }
    this.#data.clusters[identifier] = record
    this.#save()
    return record
  }

  updateCluster(identifier: string, change: Partial<Omit<ClusterRecord, 'identifier'>>): ClusterRecord {
    const record = this.ensureCluster(identifier)
    Object.assign(record, change)
    this.#save()
    return record
  }

  /** Forgets a cluster and its instances. */
  removeCluster(identifier: string): void {
    delete this.#data.clusters[identifier]
    for (const [id, instance] of Object.entries(this.#data.instances)) {
      if (instance.clusterIdentifier === identifier) delete this.#data.instances[id]
    }
    this.#save()
  }

  instance(identifier: string): InstanceRecord | undefined {
    return this.#data.instances[identifier]
  }

  /** Instances of one cluster (writer first) or of every cluster, in creation order. */
  instances(clusterIdentifier?: string): InstanceRecord[] {
    return Object.values(this.#data.instances)
      .filter((instance) => clusterIdentifier === undefined || instance.clusterIdentifier === clusterIdentifier)
      .sort((a, b) => Number(b.writer) - Number(a.writer) || a.createdAt.localeCompare(b.createdAt))
  }

  putInstance(record: InstanceRecord): void {
    this.#data.instances[record.identifier] = record
    this.#save()
  }

  updateInstance(identifier: string, change: Partial<Omit<InstanceRecord, 'identifier'>>): InstanceRecord {
    const record = this.#data.instances[identifier]
    if (record === undefined) throw instanceNotFound(identifier)
    Object.assign(record, change)
    this.#save()
    return record
  }

  /**
   * The instance `identifier` and its cluster's other instances, when it may be deleted: AWS refuses to delete a
   * cluster's writer while readers remain (InvalidDBClusterStateFault), and an unknown one (DBInstanceNotFound).
   */
  deletableInstance(identifier: string): { record: InstanceRecord; others: InstanceRecord[] } {
    const record = this.instance(identifier)
    if (record === undefined) throw instanceNotFound(identifier)
    const others = this.instances(record.clusterIdentifier).filter((other) => other.identifier !== identifier)
    if (record.writer && others.length > 0) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DB instance ${identifier} is the writer of ${record.clusterIdentifier}; delete its readers (${others.map((other) => other.identifier).join(', ')}) first.`,
      )
    }
    return { record, others }
  }

  removeInstance(identifier: string): void {
    delete this.#data.instances[identifier]
    this.#save()
  }

  /** Adds or overwrites tags (by key) on a record; at most {@link MAX_TAGS} in all. */
  addTags(owner: { tags: Tag[] }, tags: readonly Tag[]): void {
    const merged = new Map(owner.tags.map((tag) => [tag.Key, tag.Value]))
    for (const tag of tags) merged.set(tag.Key, tag.Value)
    if (merged.size > MAX_TAGS) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `A resource can have at most ${MAX_TAGS} tags; this request would leave it with ${merged.size}.`,
      )
    }
    owner.tags = [...merged].map(([Key, Value]) => ({ Key, Value }))
    this.#save()
  }

  removeTags(owner: { tags: Tag[] }, keys: readonly string[]): void {
    owner.tags = owner.tags.filter((tag) => !keys.includes(tag.Key))
    this.#save()
  }
}

/** `DBInstance <id> not found.`, with the code RDS sends. */
export function instanceNotFound(identifier: string): BacktrackError {
  return new BacktrackError('DBInstanceNotFound', `DBInstance ${identifier} not found.`)
}
