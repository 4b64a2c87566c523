package cassandra

import (
	"errors"
	"fmt"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
)

func TestRetryPolicy(t *testing.T) {
	p := retryPolicy{retries: 3}
	for _, c := range []struct {
		name string
		err  error
		want gocql.RetryType
	}{
		{"connection", errors.New("read: connection reset by peer"), gocql.RetryNextHost},
		{"no-hosts", gocql.ErrNoConnections, gocql.RetryNextHost},
		{"write-timeout", reqErr(gocql.ErrCodeWriteTimeout), gocql.RetryNextHost},
		{"unavailable", reqErr(gocql.ErrCodeUnavailable), gocql.RetryNextHost},
		{"read-failure", reqErr(gocql.ErrCodeReadFailure), gocql.RetryNextHost},
		{"overloaded", reqErr(gocql.ErrCodeOverloaded), gocql.RetryNextHost},
		{"invalid", reqErr(gocql.ErrCodeInvalid), gocql.Rethrow},
		{"syntax", reqErr(gocql.ErrCodeSyntax), gocql.Rethrow},
		{"unauthorized", reqErr(gocql.ErrCodeUnauthorized), gocql.Rethrow},
	} {
		if got := p.GetRetryType(c.err); got != c.want {
			t.Errorf("%s: got retry type %v, want %v", c.name, got, c.want)
		}
	}
}

// reqErr is a server error with the given code, as the driver's
// RequestError interface shows it.
type reqErr int

func (e reqErr) Code() int       { return int(e) }
func (e reqErr) Message() string { return "test" }
func (e reqErr) Error() string   { return "test" }

// msgErr is a server error with a code and a message.
type msgErr struct {
	code int
	msg  string
}

func (e msgErr) Code() int       { return e.code }
func (e msgErr) Message() string { return e.msg }
func (e msgErr) Error() string   { return e.msg }

func TestMissingTable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{msgErr{gocql.ErrCodeInvalid, "table t does not exist"}, true},
		{msgErr{gocql.ErrCodeInvalid, "unconfigured table t"}, true},
		{msgErr{gocql.ErrCodeConfig, "Keyspace 'k' doesn't exist"}, true},
		{fmt.Errorf("wrapped: %w", msgErr{gocql.ErrCodeInvalid, "table t does not exist"}), true},
		{msgErr{gocql.ErrCodeInvalid, "Invalid STRING constant"}, false},
		{msgErr{gocql.ErrCodeReadFailure, "table t does not exist"}, false},
		{errors.New("table t does not exist"), false},
		{nil, false},
	} {
		if got := missingTable(c.err); got != c.want {
			t.Errorf("missingTable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if err := mapErr("read", "ns", msgErr{gocql.ErrCodeInvalid, "table ns does not exist"}); !errors.Is(err, kv.ErrNoNamespace) {
		t.Errorf("mapErr: got %v, want ErrNoNamespace in the chain", err)
	}
}
