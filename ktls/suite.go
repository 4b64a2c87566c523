package ktls

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"encoding/binary"

	"golang.org/x/crypto/chacha20poly1305"
)

// Kernel TLS ABI (include/uapi/linux/tls.h). Frozen: these numbers are
// kernel ABI and never change.
const (
	solTLS           = 282 // setsockopt level of TLS_TX / TLS_RX
	tcpULP           = 31  // TCP_ULP, level SOL_TCP
	tlsTX            = 1   // TLS_TX
	tlsSetRecordType = 1   // cmsg type on sendmsg: content type of this record

	kernelVersion12 = 0x0303 // TLS_1_2_VERSION
	kernelVersion13 = 0x0304 // TLS_1_3_VERSION

	kernelAESGCM128        = 51 // TLS_CIPHER_AES_GCM_128
	kernelAESGCM256        = 52 // TLS_CIPHER_AES_GCM_256
	kernelChaCha20Poly1305 = 54 // TLS_CIPHER_CHACHA20_POLY1305
)

// TLS record layer constants (RFC 8446 §5, RFC 5246 §6.2).
const (
	recordHeaderLen   = 5
	maxPlaintext      = 1 << 14 // 16 KiB: the largest record payload, also what the kernel emits
	aeadTagLen        = 16
	gcmExplicitLen    = 8 // TLS 1.2 AES-GCM carries an 8-byte explicit nonce per record
	recordAlert       = 21
	recordHandshake   = 22
	recordAppData     = 23
	recordChangeCiphr = 20
)

// suite is what ktls needs to know about one negotiated TLS cipher suite:
// how to derive its server write key and how the kernel names its cipher.
type suite struct {
	id      uint16      // IANA cipher suite id, as in tls.ConnectionState
	version uint16      // tls.VersionTLS12 or tls.VersionTLS13
	cipher  uint16      // kernel TLS_CIPHER_* id
	keyLen  int         // AEAD key length in bytes
	hash    crypto.Hash // HKDF hash (1.3) or PRF hash (1.2)
}

// chacha reports whether the suite uses ChaCha20-Poly1305, whose 12-byte IV is
// fully implicit (no salt, no explicit nonce on the wire).
func (s suite) chacha() bool { return s.cipher == kernelChaCha20Poly1305 }

// fixedIVLen is the length of the implicit IV the key schedule yields:
// 12 bytes everywhere except TLS 1.2 AES-GCM, whose 4-byte salt is completed
// by the 8-byte explicit nonce each record carries.
func (s suite) fixedIVLen() int {
	if s.version == tls.VersionTLS12 && !s.chacha() {
		return 4
	}
	return 12
}

// newAEAD returns the record cipher for key.
func (s suite) newAEAD(key []byte) (cipher.AEAD, error) {
	if s.chacha() {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// suites lists every cipher suite ktls can hand to the kernel. Anything else
// (CBC suites, AES-CCM which crypto/tls never negotiates) stays in userspace.
var suites = [...]suite{
	{tls.TLS_AES_128_GCM_SHA256, tls.VersionTLS13, kernelAESGCM128, 16, crypto.SHA256},
	{tls.TLS_AES_256_GCM_SHA384, tls.VersionTLS13, kernelAESGCM256, 32, crypto.SHA384},
	{tls.TLS_CHACHA20_POLY1305_SHA256, tls.VersionTLS13, kernelChaCha20Poly1305, 32, crypto.SHA256},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, kernelAESGCM128, 16, crypto.SHA256},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, kernelAESGCM128, 16, crypto.SHA256},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, kernelAESGCM256, 32, crypto.SHA384},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, kernelAESGCM256, 32, crypto.SHA384},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.VersionTLS12, kernelChaCha20Poly1305, 32, crypto.SHA256},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.VersionTLS12, kernelChaCha20Poly1305, 32, crypto.SHA256},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12, kernelAESGCM128, 16, crypto.SHA256},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.VersionTLS12, kernelAESGCM256, 32, crypto.SHA384},
}

// lookupSuite finds the suite negotiated on a connection.
func lookupSuite(version, id uint16) (suite, bool) {
	for _, s := range suites {
		if s.id == id && s.version == version {
			return s, true
		}
	}
	return suite{}, false
}

// cryptoInfo is the argument of setsockopt(SOL_TLS, TLS_TX): one of the
// kernel's struct tls12_crypto_info_* (used for TLS 1.3 too). Its bytes:
//
//	+---------+-------------+------------+-------------+--------------+--------------+
//	| version | cipher_type | iv         | key         | salt         | rec_seq      |
//	| u16 (h) | u16 (h)     | 8 B (GCM)  | 16 / 32 B   | 4 B (GCM)    | 8 B, u64 big |
//	|         |             | 12 B (C20) |             | 0 B (C20)    | endian       |
//	+---------+-------------+------------+-------------+--------------+--------------+
//	(h) = host byte order. AES-GCM-128: 40 bytes; AES-GCM-256 and ChaCha20: 56.
//
// The layout is kernel ABI (frozen). The kernel's nonce for record n is
// salt‖iv XOR n (TLS 1.3 and ChaCha20) or salt‖(iv+n) with iv+n sent as the
// explicit nonce (TLS 1.2 AES-GCM).
type cryptoInfo struct {
	version uint16 // kernelVersion12 or kernelVersion13
	cipher  uint16 // kernel TLS_CIPHER_* id
	iv      []byte
	key     []byte
	salt    []byte
	recSeq  uint64 // sequence number of the next record the kernel will send
}

// marshal returns the setsockopt bytes.
func (ci *cryptoInfo) marshal() []byte {
	b := make([]byte, 0, 4+len(ci.iv)+len(ci.key)+len(ci.salt)+8)
	b = binary.NativeEndian.AppendUint16(b, ci.version)
	b = binary.NativeEndian.AppendUint16(b, ci.cipher)
	b = append(b, ci.iv...)
	b = append(b, ci.key...)
	b = append(b, ci.salt...)
	return binary.BigEndian.AppendUint64(b, ci.recSeq)
}

// wipe zeroes the key material once it has been handed over.
func (ci *cryptoInfo) wipe() {
	clear(ci.iv)
	clear(ci.key)
	clear(ci.salt)
}

// newCryptoInfo builds the kernel argument from a traffic key, the implicit
// IV the key schedule produced (fixedIVLen bytes) and the next sequence number.
func newCryptoInfo(s suite, key, fixedIV []byte, seq uint64) *cryptoInfo {
	ci := &cryptoInfo{cipher: s.cipher, key: append([]byte(nil), key...), recSeq: seq}
	ci.version = kernelVersion13
	if s.version == tls.VersionTLS12 {
		ci.version = kernelVersion12
	}
	switch {
	case s.chacha():
		// The whole 12-byte IV is implicit; the kernel has no salt for it.
		ci.iv = append([]byte(nil), fixedIV...)
		ci.salt = []byte{}
	case s.version == tls.VersionTLS13:
		// salt‖iv is the RFC 8446 per-connection IV, XORed with the sequence.
		ci.salt = append([]byte(nil), fixedIV[:4]...)
		ci.iv = append([]byte(nil), fixedIV[4:12]...)
	default:
		// TLS 1.2 GCM: the kernel sends iv as the explicit nonce and increments
		// it per record. crypto/tls uses the sequence number as explicit nonce,
		// so starting at seq continues that scheme and can never repeat a
		// nonce crypto/tls already used under this key.
		ci.salt = append([]byte(nil), fixedIV[:4]...)
		ci.iv = binary.BigEndian.AppendUint64(nil, seq)
	}
	return ci
}
