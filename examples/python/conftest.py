"""pytest fixtures for a backtrack local cluster, driven the way a team that does not write TypeScript would:
the `backtrack` CLI starts it, boto3 talks to its RDS-compatible endpoint, PyMySQL to its SQL endpoint."""

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time

import boto3
import pymysql
import pytest

# How to run the CLI: `backtrack` on PATH (npm install -g, or node_modules/.bin), else e.g. BACKTRACK="npx backtrack".
BACKTRACK = shlex.split(os.environ.get("BACKTRACK", "backtrack"))


def backtrack(*args):
    """Runs the backtrack CLI and returns its stdout."""
    return subprocess.run([*BACKTRACK, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def cluster():
    """A local cluster for the whole session (`backtrack up --detach`), stopped and removed at the end."""
    data_dir = tempfile.mkdtemp(prefix="backtrack-pytest-")
    info = json.loads(backtrack("up", "--detach", "--json", "--data-dir", data_dir))
    try:
        yield info
    finally:
        subprocess.run([*BACKTRACK, "down", "--purge", "--data-dir", data_dir], check=False, capture_output=True)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def rds(cluster):
    """boto3's RDS client on the cluster's endpoint (any credentials are accepted)."""
    return boto3.client(
        "rds",
        endpoint_url=cluster["rdsEndpoint"],
        region_name=cluster["region"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def connect(cluster):
    sql = cluster["sql"]
    return pymysql.connect(
        host=sql["host"],
        port=sql["port"],
        user=sql["user"],
        password=sql["password"],
        database=sql.get("database", "mylab"),
        autocommit=True,
    )


@pytest.fixture(scope="session")
def seeded(cluster):
    """Creates the schema and seed rows once, and returns an exact mark of that state."""
    conn = connect(cluster)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2))")
        cur.execute("INSERT INTO orders VALUES (1, 'ada', 12.50), (2, 'grace', 7.25), (3, 'linus', 99.00)")
    conn.close()
    return backtrack("mark", "--data-dir", cluster["dataDir"]).strip()


def wait_until_available(rds, cluster_id, backtrack_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (record,) = rds.describe_db_cluster_backtracks(
            DBClusterIdentifier=cluster_id, BacktrackIdentifier=backtrack_id
        )["DBClusterBacktracks"]
        status = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]["Status"]
        if record["Status"].lower() == "failed":
            raise RuntimeError(f"backtrack {backtrack_id} failed")
        if record["Status"].lower() == "completed" and status == "available":
            return
        time.sleep(0.05)
    raise TimeoutError(f"backtrack {backtrack_id} did not finish within {timeout} s")


@pytest.fixture(autouse=True)
def reset(cluster, rds, seeded):
    """After every test, BacktrackDBCluster to the seeded mark and wait until the cluster is available."""
    yield
    cluster_id = cluster["clusterIdentifier"]
    response = rds.backtrack_db_cluster(DBClusterIdentifier=cluster_id, BacktrackTo=seeded)
    wait_until_available(rds, cluster_id, response["BacktrackIdentifier"])


@pytest.fixture
def db(cluster, seeded):
    """A fresh connection per test: BacktrackDBCluster closes every connection, as Aurora does."""
    conn = connect(cluster)
    yield conn
    try:
        conn.close()
    except pymysql.err.Error:
        pass  # closed by the backtrack
