// Package devstack starts throwaway local servers — PostgreSQL, ClickHouse
// and a Kafka-protocol broker — for `keel dev` and for integration tests.
//
// Everything runs on the local machine without Docker: PostgreSQL and
// ClickHouse come from Debian packages (installed with apt-get when missing
// and we are root), Kafka is either franz-go's in-process kfake broker or a
// real Apache Kafka broker run with `java` from jars fetched from Maven
// Central. Every server listens on 127.0.0.1 only, keeps its data in a
// caller-chosen directory, and can be stopped, killed and started again on
// the same ports with the same data, which is what crash/restart tests need.
// StartClickHouseCluster starts several ClickHouse servers that declare
// each other as the shards (and replicas) of one cluster, for `keel migrate
// --clickhouse-cluster` and its tests; StartZooKeeper runs the standalone
// ZooKeeper (jars from Maven Central too) that replicas coordinate through.
//
// Child processes get a parent-death signal, so a test binary that is killed
// does not leave servers behind; they are also put in their own process
// group so a Ctrl-C in a terminal reaches only keel, which then stops them in
// order.
package devstack
