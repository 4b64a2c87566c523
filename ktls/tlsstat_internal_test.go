package ktls

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestParseTLSStat(t *testing.T) {
	const sample = "TlsCurrTxSw                     \t2\nTlsCurrRxSw                     \t0\nTlsTxSw                         \t17\nTlsDecryptError                 \t0\n"
	got, err := parseTLSStat(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got["TlsCurrTxSw"] != 2 || got["TlsTxSw"] != 17 || len(got) != 4 {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{"TlsTxSw x\n", "TlsTxSw 1 2\n"} {
		if _, err := parseTLSStat(strings.NewReader(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestKernelStats(t *testing.T) {
	st, err := KernelStats()
	if probeKernel() != nil {
		// No tls module here: the file may be missing (or present from a
		// module loaded and unusable); either answer must be coherent.
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("KernelStats without kTLS: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("kernel has kTLS but KernelStats: %v", err)
	}
	if _, ok := st["TlsCurrTxSw"]; !ok {
		t.Fatalf("no TlsCurrTxSw in %v", st)
	}
}
