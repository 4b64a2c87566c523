// Package cassandra benchmarks kv/cassandra: puts and gets through the kv
// Store and Client on a real Cassandra node, against the same CQL sent
// through the driver directly (the abstraction's overhead) and against
// kv/local on the same machine. See cassandra_test.go for how to run it;
// results are in docs/bench/cassandra.md.
package cassandra
