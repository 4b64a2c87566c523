// Package bench holds edgekit's comparative benchmarks: each edgekit package
// measured in one run against the library or server a user would otherwise
// pick (x/sync/singleflight, buraksezer/consistent, bbolt, pebble, SQLite,
// nginx, Varnish). It is a separate module so that the library's go.mod does
// not carry those peers. Results of record are in ../docs/benchmarks.md.
package bench
