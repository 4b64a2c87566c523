//go:build linux

package ktls_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/ktls"
)

const straceEnv = "EDGEKIT_KTLS_STRACE_HELPER" // "sendfile" or "copy", plus the file path

// TestSendfileBypassesUserSpace proves with strace that SendFile on plain
// TCP moves a 2 MiB file by sendfile(2) without the bytes entering user
// space (no pread64, no write of the payload), and that the copy path —
// the control — shows up as 2 MiB of pread64 and no sendfile.
func TestSendfileBypassesUserSpace(t *testing.T) {
	strace := peertest.Exec(t, "strace", "apt-get install strace")
	const size = 2 << 20
	path := filepath.Join(t.TempDir(), "segment")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"sendfile", "copy"} {
		t.Run(mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(strace, "-f", "-qq", "-yy", "-e", "signal=none", "-e", "trace=sendfile,pread64,read,write,writev",
				"-o", out, os.Args[0], "-test.run=^TestStraceHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), straceEnv+"="+mode+":"+path)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("strace run: %v\n%s", err, b)
			}
			sums := syscallBytes(t, out, path)
			t.Logf("%s: bytes by syscall %v", mode, sums)
			switch mode {
			case "sendfile":
				if sums["sendfile"] != size || sums["pread64"] != 0 || sums["write"]+sums["writev"] > 64<<10 {
					t.Fatalf("sendfile=%d pread64=%d write=%d, want %d by sendfile and no payload through user space",
						sums["sendfile"], sums["pread64"], sums["write"]+sums["writev"], size)
				}
			case "copy":
				if sums["sendfile"] != 0 || sums["pread64"] < size {
					t.Fatalf("sendfile=%d pread64=%d, want the copy path to read %d through user space", sums["sendfile"], sums["pread64"], size)
				}
			}
		})
	}
}

// strace lines: "PID name(args) = N" or "PID <... name resumed>...) = N".
var straceLine = regexp.MustCompile(`^\d+\s+(?:(\w+)\(|<\.\.\. (\w+) resumed>).*\)\s+= (\d+)`)

// syscallBytes sums the successful return values of each traced syscall
// that touched the file (pread64, sendfile) or a TCP socket (write, writev);
// -yy makes strace print those names next to each descriptor.
func syscallBytes(t *testing.T, trace, file string) map[string]int64 {
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[1] + m[2]
		line := sc.Text()
		if (name == "pread64" || name == "sendfile") && !strings.Contains(line, file) && m[2] == "" {
			continue
		}
		if (name == "write" || name == "writev") && !strings.Contains(line, "TCP") && m[2] == "" {
			continue
		}
		n, _ := strconv.ParseInt(m[3], 10, 64)
		sums[name] += n
	}
	return sums
}

// TestStraceHelper is the traced child of TestSendfileBypassesUserSpace.
func TestStraceHelper(t *testing.T) {
	spec := os.Getenv(straceEnv)
	if spec == "" {
		t.Skip("child process of TestSendfileBypassesUserSpace")
	}
	mode, path, _ := strings.Cut(spec, ":")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := ktls.NewListener(ln, nil, nil)
	defer l.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = c
	if mode == "copy" {
		w = struct{ io.Writer }{c} // hides the socket: SendFile must copy
	}
	if _, m, err := ktls.SendFile(w, f, 0, st.Size()); err != nil || m.String() != mode {
		t.Fatalf("SendFile: method %v err %v, want %s", m, err, mode)
	}
	c.Close()
	if n := <-done; n != st.Size() {
		t.Fatalf("client read %d, want %d", n, st.Size())
	}
}
