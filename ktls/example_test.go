package ktls_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgekit/edgekit/ktls"
)

// A file range copied to a writer that is not a socket takes the pooled
// copy path, and SendFile says so.
func ExampleSendFile() {
	f, cleanup := exampleFile("....moof....mdat....")
	defer cleanup()

	var buf bytes.Buffer
	n, how, err := ktls.SendFile(&buf, f, 4, 4)
	fmt.Println(n, how, err, buf.String())
	// Output: 4 copy <nil> moof
}

// A response head and its body from a file: on a socket the head goes
// out in the body's first segment; the count is of file bytes.
func ExampleSendFileHead() {
	f, cleanup := exampleFile("....moof....mdat....")
	defer cleanup()

	var buf bytes.Buffer
	n, how, err := ktls.SendFileHead(&buf, []byte("HTTP/1.1 200 OK\r\n\r\n"), f, 4, 4)
	fmt.Println(n, how, err)
	fmt.Printf("%q\n", buf.String())
	// Output:
	// 4 copy <nil>
	// "HTTP/1.1 200 OK\r\n\r\nmoof"
}

// Every TLS connection reports the path it took. Here the kernel path is
// switched off, so the connection says it is in userspace and why.
func ExampleNewListener() {
	cert, pool := exampleCert()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	l := ktls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}, &ktls.Options{DisableKernel: true})
	defer l.Close()

	go func() {
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	nc, _ := l.Accept()
	c := nc.(*ktls.Conn)
	defer c.Close()
	if err := c.Handshake(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	info := c.Info()
	fmt.Println(info.Mode, tls.VersionName(info.Version), info.Reason)
	// Output: userspace TLS 1.3 edgekit/ktls: kernel TLS disabled by options
}

// exampleCert makes a throwaway certificate for "localhost".
func exampleCert() (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// exampleFile writes content to a temporary "seg.m4s" and opens it; cleanup
// closes and removes it.
func exampleFile(content string) (f *os.File, cleanup func()) {
	dir, _ := os.MkdirTemp("", "ktls")
	path := filepath.Join(dir, "seg.m4s")
	_ = os.WriteFile(path, []byte(content), 0o600)
	f, _ = os.Open(path)
	return f, func() {
		f.Close()
		os.RemoveAll(dir)
	}
}
