package ktls

import "os"

// KernelStats returns the kernel's kTLS counters from /proc/net/tls_stat
// (TlsCurrTxSw, TlsTxSw, TlsDecryptError, TlsTxRekeyOk, ...): the system-wide
// check that the kernel, not crypto/tls, is sealing records. The file exists
// only where the tls module is loaded; otherwise the error wraps
// fs.ErrNotExist.
func KernelStats() (map[string]int64, error) {
	f, err := os.Open(tlsStatPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTLSStat(f)
}
