import { describe, expect, it } from 'vitest'
import { MODELS_MISSING, loadModelCheckers } from './model-check.js'
import { parseXml } from './xml-tree.js'

const checkers = loadModelCheckers()
const suite = checkers === undefined ? describe.skip : describe
const NS = 'http://rds.amazonaws.com/doc/2014-10-31/'

function describeClusters(cluster: string): string {
  return `<DescribeDBClustersResponse xmlns="${NS}"><DescribeDBClustersResult><DBClusters><DBCluster>${cluster}</DBCluster></DBClusters></DescribeDBClustersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBClustersResponse>`
}

describe('parseXml', () => {
  it('reads elements, attributes and entities, and rejects malformed XML', () => {
    const root = parseXml('<?xml version="1.0"?><a x="1"><b>&lt;&amp;&#65;</b><c/></a>')
    expect(root).toMatchObject({ name: 'a', attributes: { x: '1' } })
    expect(root.children.map((child) => [child.name, child.text])).toEqual([
      ['b', '<&A'],
      ['c', ''],
    ])
    for (const bad of ['<a><b></a>', '<a>', '<a></a><b/>', '<a>&nope;</a>', 'text']) {
      expect(() => parseXml(bad), bad).toThrow(/malformed XML|unknown entity/)
    }
  })
})

suite(`ModelChecker${checkers === undefined ? ` (${MODELS_MISSING})` : ''}`, () => {
  const rds = checkers!.rds
  const cloudwatch = checkers!.cloudwatch

  it('accepts a response that follows the model', () => {
    const ok = rds.checkQueryResponse(
      'DescribeDBClusters',
      200,
      describeClusters(
        '<DBClusterIdentifier>c</DBClusterIdentifier><Port>3306</Port><MultiAZ>false</MultiAZ><ClusterCreateTime>2026-11-24T00:00:00Z</ClusterCreateTime><DBClusterMembers><DBClusterMember><DBInstanceIdentifier>i</DBInstanceIdentifier></DBClusterMember></DBClusterMembers><TagList/>',
      ),
    )
    expect(ok.problems).toEqual([])
  })

  it.each([
    ['an unknown member', '<Colour>red</Colour>', /<Colour> is not a member of DBCluster/],
    ['a list item under the wrong name', '<DBClusterMembers><member/></DBClusterMembers>', /list item <member>/],
    ['a number that is not', '<Port>3306a</Port>', /not an integer/],
    ['a boolean that is not', '<MultiAZ>yes</MultiAZ>', /not true\/false/],
    ['a time that is not ISO 8601', '<ClusterCreateTime>yesterday</ClusterCreateTime>', /not an ISO 8601 time/],
    ['a member twice', '<Port>1</Port><Port>2</Port>', /appears twice/],
  ])('finds %s', (_, cluster, problem) => {
    expect(rds.checkQueryResponse('DescribeDBClusters', 200, describeClusters(cluster)).problems.join('\n')).toMatch(
      problem,
    )
  })

  it('finds a wrong result wrapper, namespace or a missing request id', () => {
    const wrapper = rds.checkQueryResponse(
      'DescribeDBClusters',
      200,
      `<DescribeDBClustersResponse xmlns="${NS}"><Result/><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBClustersResponse>`,
    )
    expect(wrapper.problems.join()).toMatch(/expected one <DescribeDBClustersResult>/)
    const namespace = rds.checkQueryResponse(
      'AddTagsToResource',
      200,
      '<AddTagsToResourceResponse xmlns="urn:other"><ResponseMetadata/></AddTagsToResourceResponse>',
    )
    expect(namespace.problems.join()).toMatch(/namespace urn:other/)
    expect(namespace.problems.join()).toMatch(/no <ResponseMetadata><RequestId>/)
  })

  it('holds errors to the operation: its own errors with their statuses, or the common ones', () => {
    const error = (code: string) =>
      `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`
    expect(rds.checkQueryResponse('DescribeDBClusters', 404, error('DBClusterNotFoundFault')).problems).toEqual([])
    expect(rds.checkQueryResponse('DescribeDBClusters', 400, error('DBClusterNotFoundFault')).problems.join()).toMatch(
      /HTTP 400, the model says 404/,
    )
    expect(rds.checkQueryResponse('DescribeDBInstances', 404, error('DBInstanceNotFound')).problems).toEqual([])
    expect(rds.checkQueryResponse('DescribeDBClusters', 404, error('DBInstanceNotFound')).problems.join()).toMatch(
      /neither one of the operation's errors nor a common error/,
    )
    expect(rds.checkQueryResponse('DescribeDBClusters', 400, error('MalformedQueryString')).problems.join()).toMatch(
      /the model says 404/,
    )
  })

  it('checks JSON documents: member names, types, required members and error headers', () => {
    expect(
      cloudwatch.checkDocumentResponse(
        'ListMetrics',
        200,
        {},
        { Metrics: [{ Namespace: 'AWS/RDS', MetricName: 'X', Dimensions: [{ Name: 'a', Value: 'b' }] }] },
        'json',
      ).problems,
    ).toEqual([])
    const bad = cloudwatch.checkDocumentResponse(
      'GetMetricStatistics',
      200,
      {},
      { Label: 1, Datapoints: [{ Timestamp: '2026-01-01', Unit: 'Minutes', Extra: true }] },
      'json',
    )
    expect(bad.problems.join('\n')).toMatch(/Label: a number, not a string/)
    expect(bad.problems.join('\n')).toMatch(/Timestamp: 2026-01-01 is not a epoch-seconds number/)
    expect(bad.problems.join('\n')).toMatch(/"Minutes" is not one of StandardUnit's values/)
    expect(bad.problems.join('\n')).toMatch(/Extra is not a member of Datapoint/)
    const missing = cloudwatch.checkDocumentResponse(
      'ListMetrics',
      200,
      {},
      { Metrics: [{ Dimensions: [{ Name: 'a' }] }] },
      'json',
    )
    expect(missing.problems.join()).toMatch(/required member Value is missing/)
    const error = cloudwatch.checkDocumentResponse(
      'GetMetricStatistics',
      400,
      { 'x-amzn-query-error': 'InvalidParameterValue;Sender' },
      { __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', message: 'm' },
      'json',
    )
    expect(error.problems).toEqual([])
    const wrongHeader = cloudwatch.checkDocumentResponse(
      'GetMetricStatistics',
      400,
      {},
      { __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', message: 'm' },
      'json',
    )
    expect(wrongHeader.problems.join()).toMatch(/no x-amzn-query-error header/)
  })
})
