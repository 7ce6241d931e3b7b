export { buildRdsEndpoint, type RdsEndpointOptions } from './rds-endpoint.js'
export {
  matchesEventQuery,
  type ClusterRegistry,
  type CreateClusterInput,
  type CreateInstanceInput,
  type RdsEventQuery,
  type RestoreClusterInput,
} from './cluster-registry.js'
export {
  RdsCatalog,
  instanceNotFound,
  isSystemTagKey,
  type CatalogStore,
  type ClusterRecord,
  type InstanceRecord,
  type Tag,
} from './rds-catalog.js'
export { instanceArn } from './rds-shapes.js'
export type { Dimension, MetricDescriptor, MetricPoint, MetricSource } from './cloudwatch/metric-source.js'
export { CLOUDWATCH_API_VERSION, CLOUDWATCH_XMLNS } from './cloudwatch/cloudwatch-actions.js'
export { signRequest, verifySignature, type AccessKey, type SignedRequest } from './sigv4.js'
