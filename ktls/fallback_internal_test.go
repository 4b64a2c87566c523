package ktls

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
)

// failingKernel refuses TLS_TX, as a kernel without a cipher would.
type failingKernel struct{ modelKernel }

func (f *failingKernel) install(net.Conn, *cryptoInfo, bool) error {
	return &InstallError{Op: "TLS_TX", Err: syscall.ENOPROTOOPT}
}

// TestFallback: whenever the kernel cannot take over, the connection keeps
// serving through crypto/tls, says why, and the client reads every byte.
func TestFallback(t *testing.T) {
	payload, f := testData(t)
	aes128 := matrix[0]
	cbc := matrixCase{"TLS12/ECDHE_ECDSA_AES_128_CBC", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false}
	realKernel := probeKernel()
	cases := []struct {
		name     string
		mc       matrixCase
		opts     *Options
		wantMode Mode
		wantErr  error
	}{
		{"disabled", aes128, &Options{DisableKernel: true}, ModeUserspace, ErrDisabled},
		{"unsupported-cipher", cbc, &Options{kern: newModelKernel()}, ModeUserspace, ErrUnsupportedCipher},
		{"install-refused", aes128, &Options{kern: &failingKernel{}}, ModeUserspace, syscall.ENOPROTOOPT},
		{"this-kernel", aes128, nil, ModeUserspace, ErrNoKernelTLS},
	}
	if realKernel == nil {
		cases[3].wantMode, cases[3].wantErr = ModeKernel, nil
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forSuite(tc.mc, func() {
				scfg, ccfg := configs(t, tc.mc, variant{name: "ticket", tickets: true})
				l := listenerOn(t, scfg, tc.opts)
				ex := runExchange(t, l, ccfg, payload, f, 7, 100_000)
				if ex.info.Mode != tc.wantMode {
					t.Fatalf("mode %v (reason %v), want %v", ex.info.Mode, ex.info.Reason, tc.wantMode)
				}
				if tc.wantErr != nil && !errors.Is(ex.info.Reason, tc.wantErr) {
					t.Fatalf("reason %v, want %v", ex.info.Reason, tc.wantErr)
				}
				if tc.wantMode == ModeUserspace && ex.method != MethodCopy {
					t.Fatalf("SendFile used %v in userspace mode", ex.method)
				}
				st := l.Stats()
				if tc.wantMode == ModeUserspace && (st.Userspace != 1 || st.Kernel != 0) {
					t.Fatalf("listener stats %+v, want one userspace connection", st)
				}
			})
		})
	}
}

// TestRealKernel runs the verification matrix against the kernel itself
// where the "tls" ULP exists, including sendfile through kernel TLS.
func TestRealKernel(t *testing.T) {
	if err := probeKernel(); err != nil {
		t.Skipf("real kernel TLS path not exercised on this machine: %v (TestKernelModel covers the keys)", err)
	}
	payload, f := testData(t)
	for _, mc := range matrix {
		for _, v := range variants {
			if v.hrr && mc.version == tls.VersionTLS12 {
				continue
			}
			t.Run(mc.name+"/"+v.name, func(t *testing.T) {
				forSuite(mc, func() {
					scfg, ccfg := configs(t, mc, v)
					l := listenerOn(t, scfg, nil)
					if v.resume {
						runExchange(t, l, ccfg, payload[:10], f, 0, 10)
					}
					ex := runExchange(t, l, ccfg, payload, f, 1234, 200_000)
					if ex.info.Mode != ModeKernel {
						t.Fatalf("mode %v (reason %v), want kernel", ex.info.Mode, ex.info.Reason)
					}
					if ex.method != MethodSendfile {
						t.Fatalf("SendFile used %v, want sendfile through kernel TLS", ex.method)
					}
				})
			})
		}
	}
}

// TestObservability: the path each connection took reaches OnHandshake, the
// logger and the listener's counters.
func TestObservability(t *testing.T) {
	payload, f := testData(t)
	scfg, ccfg := configs(t, matrix[0], variant{name: "ticket", tickets: true})
	var logBuf lockedBuffer
	infos := make(chan Info, 2)
	opts := &Options{
		kern:        newModelKernel(),
		Logger:      slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnHandshake: func(c *Conn, info Info) { infos <- info },
	}
	l := listenerOn(t, scfg, opts)
	runExchange(t, l, ccfg, payload[:1000], f, 0, 1000)
	if info := <-infos; info.Mode != ModeKernel || info.Version != tls.VersionTLS13 || info.CipherSuite != tls.TLS_AES_128_GCM_SHA256 {
		t.Fatalf("OnHandshake got %+v, want kernel TLS 1.3 AES-128-GCM", info)
	}
	logBuf.mu.Lock()
	line := logBuf.b.String()
	logBuf.mu.Unlock()
	if !strings.Contains(line, "mode=kernel") || !strings.Contains(line, "TLS_AES_128_GCM_SHA256") {
		t.Fatalf("log %q, want the mode and cipher", line)
	}
	if st := l.Stats(); st.Kernel != 1 || st.Userspace != 0 || st.Plain != 0 {
		t.Fatalf("stats %+v, want one kernel connection", st)
	}
}
