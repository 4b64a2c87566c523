package cassandra

import (
	"errors"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// retryPolicy retries a failed statement on the next host of its query
// plan when the failure says nothing about the statement itself: a lost
// connection, a timeout, too few replicas, an overloaded or starting
// node, a replica's read or write failure. Every statement the Store sends
// is idempotent (writes carry their timestamps), so a retry of a write that
// did land writes the same cells again. Errors about the statement — a
// missing table, bad syntax, no permission — are returned at once.
//
// The driver's ClusterConfig has no retry policy by default, so without
// this a node killed under load fails every request in flight on it.
type retryPolicy struct {
	retries int
}

// Attempt allows up to retries further attempts, after a short backoff
// (10 ms doubling to 160 ms) that ends early when the query's context does.
func (p retryPolicy) Attempt(q gocql.RetryableQuery) bool {
	n := q.Attempts()
	if n > p.retries {
		return false
	}
	d := 10 * time.Millisecond << min(n-1, 4)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-q.Context().Done():
		return false
	}
}

func (p retryPolicy) GetRetryType(err error) gocql.RetryType {
	var re gocql.RequestError
	if !errors.As(err, &re) {
		// No answer from the server: the connection or the host failed.
		return gocql.RetryNextHost
	}
	switch re.Code() {
	case gocql.ErrCodeServer, gocql.ErrCodeUnavailable, gocql.ErrCodeOverloaded, gocql.ErrCodeBootstrapping,
		gocql.ErrCodeWriteTimeout, gocql.ErrCodeReadTimeout, gocql.ErrCodeReadFailure, gocql.ErrCodeWriteFailure:
		return gocql.RetryNextHost
	}
	return gocql.Rethrow
}
