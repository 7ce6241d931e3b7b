import pymysql
import pytest


def count(db):
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders")
        return cur.fetchone()[0]


def test_cancel_an_order(db):
    assert count(db) == 3
    with db.cursor() as cur:
        cur.execute("DELETE FROM orders WHERE id = 2")
    assert count(db) == 2


def test_the_previous_test_was_undone(db):
    assert count(db) == 3


def test_a_destructive_migration(db):
    with db.cursor() as cur:
        cur.execute("DROP TABLE orders")
        cur.execute("CREATE TABLE invoices (id INT PRIMARY KEY)")


def test_the_migration_was_undone(db):
    with db.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert [row[0] for row in cur.fetchall()] == ["orders"]
    assert count(db) == 3


def test_the_cluster_describes_itself(rds, cluster):
    (described,) = rds.describe_db_clusters(DBClusterIdentifier=cluster["clusterIdentifier"])["DBClusters"]
    assert described["Status"] == "available"
    assert described["Port"] == cluster["sql"]["port"]
    assert described["BacktrackWindow"] > 0


def test_backtrack_closes_connections_like_aurora(db, rds, cluster, seeded):
    with db.cursor() as cur:
        cur.execute("UPDATE orders SET total = 0")
    cluster_id = cluster["clusterIdentifier"]
    from conftest import wait_until_available

    response = rds.backtrack_db_cluster(DBClusterIdentifier=cluster_id, BacktrackTo=seeded)
    wait_until_available(rds, cluster_id, response["BacktrackIdentifier"])
    with pytest.raises(pymysql.err.OperationalError):
        with db.cursor() as cur:
            cur.execute("SELECT 1")
