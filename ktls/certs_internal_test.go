package ktls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
	_ "unsafe" // go:linkname
)

// defaultCipherSuitesTLS13 is crypto/tls's TLS 1.3 suite list and preference
// order (exported to linkname by crypto/tls itself). Stock crypto/tls offers
// no other way to make a client and server agree on AES-256-GCM or, on AES
// hardware, ChaCha20-Poly1305 in TLS 1.3; tests narrow it, one at a time.
//
//go:linkname defaultCipherSuitesTLS13 crypto/tls.defaultCipherSuitesTLS13
var defaultCipherSuitesTLS13 []uint16

// tls13SuitesMu serialises tests that narrow defaultCipherSuitesTLS13.
var tls13SuitesMu sync.Mutex

// withTLS13Suite runs fn while crypto/tls offers and accepts only id in TLS 1.3.
func withTLS13Suite(id uint16, fn func()) {
	tls13SuitesMu.Lock()
	defer tls13SuitesMu.Unlock()
	saved := defaultCipherSuitesTLS13
	defaultCipherSuitesTLS13 = []uint16{id}
	defer func() { defaultCipherSuitesTLS13 = saved }()
	fn()
}

// testCerts holds a self-signed ECDSA and RSA certificate for "localhost".
type testCerts struct {
	ecdsa, rsa tls.Certificate
	pool       *x509.CertPool
}

var (
	certsOnce sync.Once
	certs     testCerts
)

func loadCerts(t testing.TB) testCerts {
	t.Helper()
	certsOnce.Do(func() {
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		certs.pool = x509.NewCertPool()
		certs.ecdsa = selfSign(ek, &ek.PublicKey, 1)
		certs.rsa = selfSign(rk, &rk.PublicKey, 2)
		for _, c := range []tls.Certificate{certs.ecdsa, certs.rsa} {
			certs.pool.AddCert(c.Leaf)
		}
	})
	return certs
}

func selfSign(priv crypto.Signer, pub any, serial int64) tls.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}
}
