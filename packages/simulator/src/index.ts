export {}
export { buildRdsEndpoint, RDS_API_VERSION, RDS_XMLNS, type RdsEndpointOptions } from './rds-endpoint/rds-endpoint.js'
export type { ClusterRegistry, CreateClusterInput, RdsEvent, RdsEventQuery } from './rds-endpoint/cluster-registry.js'
export type { AccessKey } from './rds-endpoint/sigv4.js'
