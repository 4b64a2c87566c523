package ktls

import (
	"bytes"
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// matrixCase is one TLS version and cipher suite ktls hands to the kernel.
type matrixCase struct {
	name    string
	version uint16
	suite   uint16
	rsa     bool // needs the RSA certificate
}

var matrix = []matrixCase{
	{"TLS13/AES_128_GCM", tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, false},
	{"TLS13/AES_256_GCM", tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384, false},
	{"TLS13/CHACHA20_POLY1305", tls.VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256, false},
	{"TLS12/ECDHE_ECDSA_AES_128_GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false},
	{"TLS12/ECDHE_ECDSA_AES_256_GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false},
	{"TLS12/ECDHE_ECDSA_CHACHA20", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false},
	{"TLS12/ECDHE_RSA_AES_128_GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
	{"TLS12/ECDHE_RSA_AES_256_GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, true},
	{"TLS12/ECDHE_RSA_CHACHA20", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true},
	{"TLS12/RSA_AES_128_GCM", tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, true},
	{"TLS12/RSA_AES_256_GCM", tls.VersionTLS12, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, true},
}

// variant is how the handshake around the keys is shaped.
type variant struct {
	name       string
	tickets    bool // server may issue a session ticket, client caches it
	resume     bool // second connection resumes from the ticket
	clientCert bool // server requests a client certificate (TLS 1.3 sends its ticket later)
	hrr        bool // force a HelloRetryRequest (TLS 1.3)
}

var variants = []variant{
	{name: "no-tickets"},
	{name: "ticket", tickets: true},
	{name: "resumed", tickets: true, resume: true},
	{name: "client-cert", tickets: true, clientCert: true},
	{name: "hello-retry", tickets: true, hrr: true},
}

// configs builds the server and client configs for one case.
func configs(t testing.TB, mc matrixCase, v variant) (server, client *tls.Config) {
	cs := loadCerts(t)
	cert := cs.ecdsa
	if mc.rsa {
		cert = cs.rsa
	}
	server = &tls.Config{
		Certificates:           []tls.Certificate{cert},
		MinVersion:             mc.version,
		MaxVersion:             mc.version,
		SessionTicketsDisabled: !v.tickets,
	}
	client = &tls.Config{RootCAs: cs.pool, ServerName: "localhost", MinVersion: mc.version, MaxVersion: mc.version}
	if mc.version == tls.VersionTLS12 {
		server.CipherSuites = []uint16{mc.suite}
		client.CipherSuites = []uint16{mc.suite}
	}
	if v.tickets {
		client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	if v.clientCert {
		server.ClientAuth = tls.RequireAnyClientCert
		client.Certificates = []tls.Certificate{cs.ecdsa}
	}
	if v.hrr {
		// The client's first key share is a hybrid/X25519; insisting on
		// P-256 makes the server ask again.
		server.CurvePreferences = []tls.CurveID{tls.CurveP256}
	}
	return server, client
}

// exchange is what one connection of the verification did.
type exchange struct {
	info    Info
	method  Method
	resumed bool
	suite   uint16
}

// runExchange serves one connection from l: the client sends "ping", the
// server answers with payload by Write and file[off:off+n] by SendFile, then
// closes. The client (stock crypto/tls) must read exactly that.
func runExchange(t *testing.T, l *Listener, ccfg *tls.Config, payload []byte, f *os.File, off, n int64) exchange {
	t.Helper()
	type result struct {
		ex  exchange
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		nc, err := l.Accept()
		if err != nil {
			r.err = err
			return
		}
		c := nc.(*Conn)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		ping := make([]byte, 4)
		if _, r.err = io.ReadFull(c, ping); r.err != nil {
			return
		}
		r.ex.info = c.Info()
		if _, r.err = c.Write(payload); r.err != nil {
			return
		}
		_, r.ex.method, r.err = SendFile(c, f, off, n)
	}()
	cc, err := tls.Dial("tcp", l.Addr().String(), ccfg)
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	defer cc.Close()
	_ = cc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := cc.Write([]byte("ping")); err != nil {
		t.Fatalf("client write: %v", err)
	}
	got, rerr := io.ReadAll(cc)
	r := <-done
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	if rerr != nil {
		t.Fatalf("client read after %d bytes: %v (info %+v)", len(got), rerr, r.ex.info)
	}
	want := make([]byte, 0, len(payload)+int(n))
	want = append(want, payload...)
	fileBytes := make([]byte, n)
	if _, err := f.ReadAt(fileBytes, off); err != nil {
		t.Fatal(err)
	}
	want = append(want, fileBytes...)
	if !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	st := cc.ConnectionState()
	r.ex.resumed, r.ex.suite = st.DidResume, st.CipherSuite
	return r.ex
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// testData returns a seeded payload and a temp file of random bytes.
func testData(t *testing.T) ([]byte, *os.File) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("KTLS_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("payload seed %d (replay with KTLS_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	payload := make([]byte, 70_000+rng.IntN(20_000)) // several 16 KiB records
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	fileData := make([]byte, 300_000)
	for i := range fileData {
		fileData[i] = byte(rng.Uint32())
	}
	p := filepath.Join(t.TempDir(), "segment.m4s")
	if err := os.WriteFile(p, fileData, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return payload, f
}

// listenerOn opens a loopback Listener with opts, closed when t ends.
func listenerOn(t *testing.T, scfg *tls.Config, opts *Options) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, scfg, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

// modelListener is listenerOn with the user-space kernel model.
func modelListener(t *testing.T, scfg *tls.Config) (*Listener, *modelKernel) {
	model := newModelKernel()
	return listenerOn(t, scfg, &Options{kern: model}), model
}

// forSuite runs fn with crypto/tls narrowed to the case's TLS 1.3 suite.
func forSuite(mc matrixCase, fn func()) {
	if mc.version == tls.VersionTLS13 {
		withTLS13Suite(mc.suite, fn)
		return
	}
	fn()
}

// TestKernelModel is the verification without kernel support: for every
// version, cipher and handshake shape, the exact setsockopt bytes ktls
// produces drive a user-space model of the kernel's sealing, and a stock
// crypto/tls client must read every byte and the close_notify.
func TestKernelModel(t *testing.T) {
	payload, f := testData(t)
	for _, mc := range matrix {
		for _, v := range variants {
			if v.hrr && mc.version == tls.VersionTLS12 {
				continue // HelloRetryRequest exists only in TLS 1.3
			}
			t.Run(mc.name+"/"+v.name, func(t *testing.T) {
				forSuite(mc, func() { checkModel(t, mc, v, payload, f) })
			})
		}
	}
}

func checkModel(t *testing.T, mc matrixCase, v variant, payload []byte, f *os.File) {
	scfg, ccfg := configs(t, mc, v)
	l, model := modelListener(t, scfg)
	if v.resume {
		first := runExchange(t, l, ccfg, payload[:100], f, 0, 10)
		if first.resumed {
			t.Fatalf("first connection resumed")
		}
	}
	ex := runExchange(t, l, ccfg, payload, f, 1234, 200_000)
	if ex.suite != mc.suite {
		t.Fatalf("negotiated suite %s, want %s", tls.CipherSuiteName(ex.suite), tls.CipherSuiteName(mc.suite))
	}
	if ex.resumed != v.resume {
		t.Fatalf("resumed = %v, want %v", ex.resumed, v.resume)
	}
	if ex.info.Mode != ModeKernel {
		t.Fatalf("mode %v (reason %v), want kernel", ex.info.Mode, ex.info.Reason)
	}
	if ex.method != MethodCopy {
		t.Fatalf("SendFile method %v on the model, want copy (the model cannot sendfile)", ex.method)
	}
	installs, controls, maxRec := model.snapshot()
	last := installs[len(installs)-1]
	// Independent expectation of the first kernel sequence number: TLS 1.2
	// sent its Finished under the key (1); TLS 1.3 sent a NewSessionTicket
	// under it when tickets are on (1) or nothing (0).
	wantSeq := uint64(1)
	if mc.version == tls.VersionTLS13 && !v.tickets {
		wantSeq = 0
	}
	if last.seq != wantSeq || last.rekey {
		t.Fatalf("kernel got rec_seq %d (rekey %v), want %d", last.seq, last.rekey, wantSeq)
	}
	wantSize := map[uint16]int{kernelAESGCM128: 40, kernelAESGCM256: 56, kernelChaCha20Poly1305: 56}[last.cipher]
	if last.size != wantSize {
		t.Fatalf("crypto_info is %d bytes, want %d", last.size, wantSize)
	}
	if maxRec > maxPlaintext+1+8+aeadTagLen {
		t.Fatalf("record payload of %d bytes exceeds 16 KiB + overhead", maxRec)
	}
	if len(controls) == 0 || !bytes.Equal(controls[len(controls)-1].payload, []byte{1, 0}) {
		t.Fatalf("last control records %v, want close_notify alert through the kernel", controls)
	}
}
