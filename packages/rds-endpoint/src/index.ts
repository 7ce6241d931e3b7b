export { buildRdsEndpoint, RDS_API_VERSION, RDS_XMLNS, type RdsEndpointOptions } from './rds-endpoint.js'
export {
  matchesEventQuery,
  type ClusterRegistry,
  type CreateClusterInput,
  type RdsEventQuery,
} from './cluster-registry.js'
export type { AccessKey } from './sigv4.js'
