#!/usr/bin/env bash
# A runbook for Aurora MySQL written for AWS, with the AWS CLI and jq: create a cluster and its writer, tag it, make
# a mistake, backtrack over it, restore a copy as of before the mistake, read the backtrack metrics, clean up.
#
# Against AWS:            ./aurora-runbook.sh
# Against the simulator:  ENDPOINT_URL=http://127.0.0.1:<api port> ./aurora-runbook.sh
# Nothing else changes: ENDPOINT_URL only adds --endpoint-url to each call (the Debian CLI v2 predates
# AWS_ENDPOINT_URL). Needs aws, jq and the mysql (or mariadb) client; costs money on AWS, so it deletes what it makes.
set -euo pipefail

NAME=${NAME:-runbook-$$}
USER_NAME=${USER_NAME:-labuser}
PASSWORD=${PASSWORD:-Runbook-pass-1}
CLASS=${CLASS:-db.r6g.large}

aws_() { aws "$@" ${ENDPOINT_URL:+--endpoint-url "$ENDPOINT_URL"}; }
step() { printf '== %s\n' "$*"; }
sql() { mysql -h"$1" -P"$2" -u"$USER_NAME" -p"$PASSWORD" -N -B shop -e "$3"; }
wait_backtrack() {
  local status
  for _ in $(seq 1 600); do
    status=$(aws_ rds describe-db-cluster-backtracks --db-cluster-identifier "$1" --backtrack-identifier "$2" \
      | jq -r '.DBClusterBacktracks[0].Status | ascii_upcase')
    case $status in
      COMPLETED) return 0 ;;
      FAILED) echo "backtrack $2 failed" >&2; return 1 ;;
    esac
    sleep 1
  done
  echo "backtrack $2 still $status" >&2
  return 1
}

step "create cluster $NAME with a 1-hour backtrack window, and its writer"
arn=$(aws_ rds create-db-cluster --db-cluster-identifier "$NAME" --engine aurora-mysql \
  --engine-version 8.0.mysql_aurora.3.05.2 --master-username "$USER_NAME" --master-user-password "$PASSWORD" \
  --database-name shop --backtrack-window 3600 --tags Key=owner,Value=runbook | jq -r .DBCluster.DBClusterArn)
aws_ rds create-db-instance --db-instance-identifier "$NAME-1" --db-cluster-identifier "$NAME" \
  --db-instance-class "$CLASS" --engine aurora-mysql >/dev/null
aws_ rds wait db-instance-available --db-instance-identifier "$NAME-1"
aws_ rds wait db-cluster-available --db-cluster-identifier "$NAME"
read -r host port < <(aws_ rds describe-db-clusters --db-cluster-identifier "$NAME" \
  | jq -r '.DBClusters[0] | "\(.Endpoint) \(.Port)"')
echo "writer: $host:$port, members: $(aws_ rds describe-db-clusters --db-cluster-identifier "$NAME" \
  | jq -c '[.DBClusters[0].DBClusterMembers[] | {(.DBInstanceIdentifier): .IsClusterWriter}]')"

step "tag it as a backtrack testbed"
aws_ rds add-tags-to-resource --resource-name "$arn" --tags Key=backtrack-testbed,Value=true
aws_ rds list-tags-for-resource --resource-name "$arn" \
  | jq -e '.TagList | any(.Key == "backtrack-testbed" and .Value == "true")' >/dev/null

step "write some orders, note the time, then drop the table by mistake"
sql "$host" "$port" "CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(40));
  INSERT INTO orders VALUES (1, 'apples'), (2, 'pears'), (3, 'plums')"
before=$(sql "$host" "$port" "SELECT COUNT(*) FROM orders")
sleep 2
good_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 2
sql "$host" "$port" "DROP TABLE orders"

step "backtrack to $good_time"
backtrack=$(aws_ rds backtrack-db-cluster --db-cluster-identifier "$NAME" --backtrack-to "$good_time" \
  | jq -r .BacktrackIdentifier)
wait_backtrack "$NAME" "$backtrack"
aws_ rds wait db-cluster-available --db-cluster-identifier "$NAME"
after=$(sql "$host" "$port" "SELECT COUNT(*) FROM orders")
[ "$after" = "$before" ] || { echo "expected $before orders after the backtrack, found $after" >&2; exit 1; }
echo "orders back: $after"

step "restore a copy as of $good_time, give it a writer"
aws_ rds restore-db-cluster-to-point-in-time --db-cluster-identifier "$NAME-copy" \
  --source-db-cluster-identifier "$NAME" --restore-to-time "$good_time" --backtrack-window 3600 \
  --tags Key=owner,Value=runbook >/dev/null
aws_ rds wait db-cluster-available --db-cluster-identifier "$NAME-copy"
aws_ rds create-db-instance --db-instance-identifier "$NAME-copy-1" --db-cluster-identifier "$NAME-copy" \
  --db-instance-class "$CLASS" --engine aurora-mysql >/dev/null
aws_ rds wait db-instance-available --db-instance-identifier "$NAME-copy-1"
read -r copy_host copy_port < <(aws_ rds describe-db-clusters --db-cluster-identifier "$NAME-copy" \
  | jq -r '.DBClusters[0] | "\(.Endpoint) \(.Port)"')
copied=$(sql "$copy_host" "$copy_port" "SELECT COUNT(*) FROM orders")
[ "$copied" = "$before" ] || { echo "expected $before orders in the copy, found $copied" >&2; exit 1; }
echo "the copy has the orders: $copied"

step "read the backtrack metrics"
aws_ cloudwatch list-metrics --namespace AWS/RDS --dimensions Name=DBClusterIdentifier,Value="$NAME" \
  | jq -r '[.Metrics[].MetricName] | sort | join(" ")'
stored=$(aws_ cloudwatch get-metric-statistics --namespace AWS/RDS --metric-name BacktrackChangeRecordsStored \
  --dimensions Name=DBClusterIdentifier,Value="$NAME" --statistics Maximum --period 300 \
  --start-time "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" --end-time "$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)" \
  | jq '[.Datapoints[].Maximum] | max // 0')
echo "BacktrackChangeRecordsStored (max over the last hour): $stored"

step "clean up"
for instance in "$NAME-copy-1" "$NAME-1"; do
  aws_ rds delete-db-instance --db-instance-identifier "$instance" >/dev/null
done
for instance in "$NAME-copy-1" "$NAME-1"; do
  aws_ rds wait db-instance-deleted --db-instance-identifier "$instance"
done
for cluster in "$NAME-copy" "$NAME"; do
  aws_ rds delete-db-cluster --db-cluster-identifier "$cluster" --skip-final-snapshot >/dev/null
done
echo "runbook done"
