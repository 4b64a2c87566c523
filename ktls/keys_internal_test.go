package ktls

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTLS13KeysRFC8448 checks the traffic key schedule against RFC 8448 §3
// (simple 1-RTT handshake, server application traffic keys).
func TestTLS13KeysRFC8448(t *testing.T) {
	s, _ := lookupSuite(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256)
	secret := unhex(t, "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43")
	k, err := tls13Keys(s, secret)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"); !bytes.Equal(k.key, want) {
		t.Errorf("key %x, want %x", k.key, want)
	}
	if want := unhex(t, "cf 78 2b 88 dd 83 54 9a ad f1 e9 84"); !bytes.Equal(k.iv, want) {
		t.Errorf("iv %x, want %x", k.iv, want)
	}
}

// TestPRF12 checks the TLS 1.2 PRF (P_SHA256) against the widely used
// test vector posted to the IETF TLS list.
func TestPRF12(t *testing.T) {
	secret := unhex(t, "9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35")
	seed := unhex(t, "a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c")
	want := unhex(t, "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a"+
		"6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab"+
		"4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01"+
		"87 34 7b 66")
	got := prf12(crypto.SHA256.New, secret, "test label", seed, len(want))
	if !bytes.Equal(got, want) {
		t.Errorf("PRF\n got %x\nwant %x", got, want)
	}
}

// TestCryptoInfoLayout pins the setsockopt struct sizes and field order.
func TestCryptoInfoLayout(t *testing.T) {
	key := bytes.Repeat([]byte{0xaa}, 32)
	iv := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, tc := range []struct {
		name    string
		version uint16
		suite   uint16
		size    int
		// wantIV/salt as the kernel will see them
		wantIV, wantSalt []byte
	}{
		{"13-aes128", tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, 40, iv[4:], iv[:4]},
		{"13-aes256", tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384, 56, iv[4:], iv[:4]},
		{"13-chacha", tls.VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256, 56, iv, nil},
		{"12-aes128", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 40, []byte{0, 0, 0, 0, 0, 0, 0, 7}, iv[:4]},
		{"12-chacha", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 56, iv, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := lookupSuite(tc.version, tc.suite)
			if !ok {
				t.Fatal("suite not found")
			}
			b := newCryptoInfo(s, key[:s.keyLen], iv[:s.fixedIVLen()], 7).marshal()
			if len(b) != tc.size {
				t.Fatalf("size %d, want %d", len(b), tc.size)
			}
			tx, err := parseCryptoInfo(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tx.iv, tc.wantIV) || !bytes.Equal(tx.salt, tc.wantSalt) || tx.seq != 7 {
				t.Fatalf("iv %x salt %x seq %d, want %x %x 7", tx.iv, tx.salt, tx.seq, tc.wantIV, tc.wantSalt)
			}
		})
	}
}
