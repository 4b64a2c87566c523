package edgecache_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
	"github.com/edgekit/edgekit/ktls"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edge"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestHitsOverTLS serves disk hits over HTTPS through ktls.Serve: with
// kernel TLS in the kernel they leave by sendfile through the kernel's
// record layer, else by crypto/tls; either way the bytes are right and the
// path taken is reported.
func TestHitsOverTLS(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := "https://" + ln.Addr().String()
	e, err := edgecache.New(edgecache.Config{Origin: o.srv.URL, Self: self, CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var mu sync.Mutex // guards modes
	var modes []ktls.Info
	kl := ktls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}, &ktls.Options{OnHandshake: func(c *ktls.Conn, info ktls.Info) {
		mu.Lock()
		modes = append(modes, info)
		mu.Unlock()
	}})
	lane := e.Lane(kl, time.Minute, 5*time.Second)
	srv := &http.Server{Handler: e, ConnContext: lane.ConnContext}
	go srv.Serve(lane)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	p := "/live/ch1/0/42.m4s"
	for i, want := range []string{"MISS", "HIT", "HIT"} {
		resp, err := client.Get(self + p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, segmentBody(p)) || resp.Header.Get("X-Cache") != want {
			t.Fatalf("request %d: err %v, %d bytes, X-Cache %q, want %s and the body", i, err, len(b), resp.Header.Get("X-Cache"), want)
		}
		// A fresh connection each time: the hits are answered by the lane
		// (the miss handed its connection to net/http).
		client.CloseIdleConnections()
	}
	settled(t, e, 2)
	mu.Lock()
	defer mu.Unlock()
	if len(modes) == 0 {
		t.Fatal("no handshake reported")
	}
	st := e.Stats()
	t.Logf("TLS path: %v (reason: %v); hits by sendfile %d, by copy %d", modes[0].Mode, modes[0].Reason, st.SendFile, st.Copied)
	if st.SendFile+st.Copied != 2 {
		t.Fatalf("hit bodies: sendfile %d + copy %d, want 2", st.SendFile, st.Copied)
	}
	if modes[0].Reason == nil && st.SendFile != 2 {
		t.Errorf("kernel TLS was installed but hits went by copy (%d)", st.Copied)
	}
}
