package ktls

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPSThroughModel serves a file over HTTPS with net/http while the
// model kernel seals every response byte; a stock net/http client reads it.
func TestHTTPSThroughModel(t *testing.T) {
	_, f := testData(t)
	data, _ := io.ReadAll(io.NewSectionReader(f, 0, 300_000))
	scfg, ccfg := configs(t, matrix[0], variant{name: "ticket", tickets: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	infos := make(chan Info, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServeFile(w, r, "seg.m4s", time.Time{}, f, 0, int64(len(data)))
		c, _ := ConnFromContext(r.Context())
		infos <- c.Info()
	})}
	go func() { _ = Serve(srv, ln, scfg, &Options{kern: newModelKernel()}) }()
	defer srv.Close()
	tr := &http.Transport{TLSClientConfig: ccfg}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for i := range 3 { // keep-alive: three responses on one kernel-mode connection
		resp, err := cl.Get("https://" + ln.Addr().String() + "/seg.m4s")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(body, data) {
			t.Fatalf("request %d: %d bytes, err %v", i, len(body), err)
		}
		if info := <-infos; info.Mode != ModeKernel {
			t.Fatalf("request %d: mode %v (%v), want kernel", i, info.Mode, info.Reason)
		}
	}
}

// TestAlertThroughKernel: when a read fails after the kernel took over,
// crypto/tls's alert is re-sent through the kernel, so the client learns
// the reason instead of reading garbage.
func TestAlertThroughKernel(t *testing.T) {
	scfg, ccfg := configs(t, matrix[0], variant{name: "no-tickets"})
	l, model := modelListener(t, scfg)
	readErr := make(chan error, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			readErr <- err
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = nc.Read(make([]byte, 10))
		readErr <- err
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	cc := tls.Client(raw, ccfg)
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	// A record that cannot authenticate.
	if _, err := raw.Write([]byte{23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; err == nil {
		t.Fatal("server read a forged record")
	}
	_, err = cc.Read(make([]byte, 10))
	if err == nil || !strings.Contains(err.Error(), "bad record MAC") {
		t.Fatalf("client read error %v, want the server's bad_record_mac alert", err)
	}
	_, controls, _ := model.snapshot()
	if len(controls) == 0 || controls[0].typ != recordAlert || !bytes.Equal(controls[0].payload, []byte{2, 20}) {
		t.Fatalf("controls %+v, want fatal bad_record_mac through the kernel", controls)
	}
}
