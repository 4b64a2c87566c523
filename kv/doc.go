// Package kv is edgekit's key-value abstraction, after Netflix's KV Data
// Abstraction Layer: namespaces of records, each record id a sorted map of
// byte keys to byte values. [Store] is the small interface a backend
// implements (kv/local embedded, kv/cassandra distributed).
package kv
