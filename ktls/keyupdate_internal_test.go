package ktls

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a KeyLogWriter safe to read after the handshake.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) secret(t *testing.T, label string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		if lb, _, s, ok := parseKeyLogLine(line); ok && lb == label {
			return s
		}
	}
	t.Fatalf("no %s in client key log", label)
	return nil
}

// clientSealer seals client records under a TLS 1.3 client traffic secret,
// so the test can send what stock crypto/tls has no API for: a KeyUpdate.
func clientSealer(t *testing.T, s suite, secret []byte) *modelTX {
	t.Helper()
	k, err := tls13Keys(s, secret)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := parseCryptoInfo(newCryptoInfo(s, k.key, k.iv, 0).marshal())
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestPeerKeyUpdate: a client sends KeyUpdate(update_requested). crypto/tls
// on the server answers with a KeyUpdate of its own, written with its stale
// user-space state; ktls must re-send that message through the kernel, then
// rotate the kernel key, so that the stock client reads the reply (under the
// old key), the key change, and all later data (under the new key).
func TestPeerKeyUpdate(t *testing.T) {
	payload, _ := testData(t)
	for _, mc := range matrix[:3] {
		t.Run(mc.name, func(t *testing.T) {
			forSuite(mc, func() { checkKeyUpdate(t, mc, payload) })
		})
	}
}

func checkKeyUpdate(t *testing.T, mc matrixCase, payload []byte) {
	scfg, ccfg := configs(t, mc, variant{name: "no-tickets"})
	klog := &lockedBuffer{}
	ccfg.KeyLogWriter = klog
	l, model := modelListener(t, scfg)

	serverErr := make(chan error, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		c := nc.(*Conn)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		ping := make([]byte, 4)
		if _, err := io.ReadFull(c, ping); err != nil {
			serverErr <- err
			return
		}
		_, err = c.Write(payload)
		serverErr <- err
	}()

	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
	cc := tls.Client(raw, ccfg)
	if err := cc.Handshake(); err != nil {
		t.Fatal(err)
	}
	s, _ := lookupSuite(tls.VersionTLS13, mc.suite)
	secret0 := klog.secret(t, "CLIENT_TRAFFIC_SECRET_0")
	secret1, err := nextTrafficSecret(s, secret0)
	if err != nil {
		t.Fatal(err)
	}
	// KeyUpdate(update_requested) under the client's first key, then "ping"
	// under its next key, straight onto the socket.
	msg := clientSealer(t, s, secret0).seal(recordHandshake, []byte{handshakeKeyUpdate, 0, 0, 1, 1})
	msg = append(msg, clientSealer(t, s, secret1).seal(recordAppData, []byte("ping"))...)
	if _, err := raw.Write(msg); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(cc)
	if err != nil {
		t.Fatalf("client read after %d bytes: %v", len(got), err)
	}
	if err := <-serverErr; err != nil {
		t.Fatalf("server: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("client read %d bytes, want %d; first difference at %d", len(got), len(payload), firstDiff(got, payload))
	}
	installs, controls, _ := model.snapshot()
	if len(installs) != 2 || !installs[1].rekey || installs[1].seq != 0 {
		t.Fatalf("installs %+v, want initial + rekey at seq 0", installs)
	}
	if len(controls) < 1 || controls[0].typ != recordHandshake || !bytes.Equal(controls[0].payload, []byte{handshakeKeyUpdate, 0, 0, 1, 0}) {
		t.Fatalf("first control record %+v, want KeyUpdate(update_not_requested)", controls)
	}
}

// TestConcurrentWriters: writers on one kernel-mode Conn interleave whole
// writes, each sealed into records with consecutive sequence numbers, while
// SendFile runs alongside; a stock client reads every block intact.
func TestConcurrentWriters(t *testing.T) {
	scfg, ccfg := configs(t, matrix[1], variant{name: "ticket", tickets: true})
	const writers, blocks, blockLen = 4, 40, 3000
	zpath := filepath.Join(t.TempDir(), "z")
	if err := os.WriteFile(zpath, bytes.Repeat([]byte{'Z'}, 3*blockLen), 0o600); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Open(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	forSuite(matrix[1], func() {
		l, _ := modelListener(t, scfg)
		serverErr := make(chan error, 1)
		go func() {
			nc, err := l.Accept()
			if err != nil {
				serverErr <- err
				return
			}
			c := nc.(*Conn)
			defer c.Close()
			if err := c.Handshake(t.Context()); err != nil {
				serverErr <- err
				return
			}
			var wg sync.WaitGroup
			errs := make(chan error, writers+1)
			for w := range writers {
				wg.Go(func() {
					blk := bytes.Repeat([]byte{byte('a' + w)}, blockLen)
					for range blocks {
						if _, err := c.Write(blk); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Go(func() {
				// Three blocks of 'Z' from a file, in one SendFile.
				if _, _, err := SendFile(c, zf, 0, 3*blockLen); err != nil {
					errs <- err
				}
			})
			wg.Wait()
			close(errs)
			serverErr <- <-errs
		}()
		cc, err := tls.Dial("tcp", l.Addr().String(), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		_ = cc.SetDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(cc)
		if err != nil {
			t.Fatalf("client read after %d bytes: %v", len(got), err)
		}
		if err := <-serverErr; err != nil {
			t.Fatal(err)
		}
		counts := map[byte]int{}
		for i := 0; i < len(got); i += blockLen {
			blk := got[i:min(i+blockLen, len(got))]
			if len(blk) != blockLen || bytes.Count(blk, blk[:1]) != blockLen {
				t.Fatalf("block at %d torn: %q...", i, blk[:min(20, len(blk))])
			}
			counts[blk[0]]++
		}
		for w := range writers {
			if counts[byte('a'+w)] != blocks {
				t.Fatalf("writer %d: %d blocks, want %d", w, counts[byte('a'+w)], blocks)
			}
		}
		if counts['Z'] != 3 {
			t.Fatalf("%d file blocks, want 3", counts['Z'])
		}
	})
}
