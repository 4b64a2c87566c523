package peertest

import (
	"net"
	"strings"
	"testing"
)

// recorder captures Skip and Fatal without ending the calling test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skip(args ...any)               { r.skipped = true; r.msg = args[0].(string) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = true; r.msg = format }

func TestMissingSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		env        string
		skip, fail bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.env)
			r := &recorder{}
			Exec(r, "edgekit-no-such-binary-xyz", "nothing")
			if r.skipped != tc.skip || r.failed != tc.fail {
				t.Fatalf("got skipped=%v failed=%v, want %v %v (%s)", r.skipped, r.failed, tc.skip, tc.fail, r.msg)
			}
		})
	}
}

func TestExecFindsSh(t *testing.T) {
	r := &recorder{}
	if p := Exec(r, "sh", "base system"); p == "" || r.skipped || r.failed {
		t.Fatalf("sh not found: %q %s", p, r.msg)
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv(RequireEnv, "")
	t.Setenv("EDGEKIT_TEST_ADDR", "127.0.0.1:1,"+ln.Addr().String())
	r := &recorder{}
	if got := TCP(r, "EDGEKIT_TEST_ADDR", "", "n/a"); got != ln.Addr().String() {
		t.Fatalf("got %q want %q (%s)", got, ln.Addr(), r.msg)
	}
	ln.Close()
	r = &recorder{}
	TCP(r, "EDGEKIT_TEST_ADDR", "", "n/a")
	if !r.skipped {
		t.Fatalf("closed listener: got skipped=%v, want true", r.skipped)
	}
}

func TestTCPNoAddress(t *testing.T) {
	t.Setenv(RequireEnv, "")
	t.Setenv("EDGEKIT_TEST_ADDR", "")
	r := &recorder{}
	TCP(r, "EDGEKIT_TEST_ADDR", "", "start it")
	if !r.skipped || !strings.Contains(r.msg, "no address given") || strings.Contains(r.msg, "<nil>") {
		t.Fatalf("got skipped=%v %q, want a skip saying no address was given", r.skipped, r.msg)
	}
}
