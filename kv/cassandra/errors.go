package cassandra

import (
	"errors"
	"fmt"
	"strings"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
)

// ErrOptions reports an invalid Options field to New.
var ErrOptions = errors.New("edgekit/kv/cassandra: invalid options")

// mapErr turns a driver error for an operation on namespace ns into the kv
// sentinel a caller tests for, keeping the driver error in the chain (so
// errors.As still finds gocql's RequestErr* types for timeouts and
// unavailable replicas).
func mapErr(op, ns string, err error) error {
	if err == nil {
		return nil
	}
	if missingTable(err) {
		return fmt.Errorf("edgekit/kv/cassandra: %s %q: %w (%w)", op, ns, kv.ErrNoNamespace, err)
	}
	return fmt.Errorf("edgekit/kv/cassandra: %s %q: %w", op, ns, err)
}

// missingTable reports whether err is Cassandra refusing a statement
// because its table or keyspace does not exist. Cassandra 5.0 says "table t
// does not exist" (a query) or "Keyspace 'k' doesn't exist" (DDL), 4.x
// "unconfigured table t", with codes that other mistakes share (invalid,
// configuration), hence the text match.
func missingTable(err error) bool {
	var re gocql.RequestError
	if !errors.As(err, &re) || (re.Code() != gocql.ErrCodeInvalid && re.Code() != gocql.ErrCodeConfig) {
		return false
	}
	msg := re.Message()
	return strings.Contains(msg, "does not exist") || strings.Contains(msg, "doesn't exist") ||
		strings.Contains(msg, "unconfigured table")
}
