package ktls

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"hash"
)

// trafficKeys is one direction's record protection: the AEAD key and the
// implicit IV (fixedIVLen bytes).
type trafficKeys struct {
	key, iv []byte
}

// hkdfExpandLabel is RFC 8446 §7.1 HKDF-Expand-Label with an empty context:
//
//	struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }
func hkdfExpandLabel(h crypto.Hash, secret []byte, label string, length int) ([]byte, error) {
	info := make([]byte, 0, 2+1+6+len(label)+1)
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0) // empty context
	return hkdf.Expand(h.New, secret, string(info), length)
}

// tls13Keys derives the record key and IV from a TLS 1.3 traffic secret
// (RFC 8446 §7.3).
func tls13Keys(s suite, secret []byte) (trafficKeys, error) {
	key, err := hkdfExpandLabel(s.hash, secret, "key", s.keyLen)
	if err != nil {
		return trafficKeys{}, err
	}
	iv, err := hkdfExpandLabel(s.hash, secret, "iv", 12)
	if err != nil {
		return trafficKeys{}, err
	}
	return trafficKeys{key: key, iv: iv}, nil
}

// nextTrafficSecret is the TLS 1.3 KeyUpdate step (RFC 8446 §7.2):
// application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length).
func nextTrafficSecret(s suite, secret []byte) ([]byte, error) {
	return hkdfExpandLabel(s.hash, secret, "traffic upd", s.hash.Size())
}

// prf12 is the TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label ‖ seed).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	labelSeed := append([]byte(label), seed...)
	mac := hmac.New(h, secret)
	out := make([]byte, 0, n+mac.Size())
	// A(0) = seed; A(i) = HMAC(secret, A(i-1)); output = HMAC(secret, A(i) ‖ seed)...
	mac.Write(labelSeed)
	a := mac.Sum(nil)
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(labelSeed)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// tls12ServerKeys derives the server write key and implicit IV from the TLS 1.2
// master secret (RFC 5246 §6.3). The key block is
//
//	client_write_key ‖ server_write_key ‖ client_write_IV ‖ server_write_IV
//
// (AEAD suites have no MAC keys), computed with the seed server_random ‖
// client_random — note the order, the reverse of the master secret's seed.
func tls12ServerKeys(s suite, master, clientRandom, serverRandom []byte) trafficKeys {
	ivLen := s.fixedIVLen()
	seed := append(append([]byte(nil), serverRandom...), clientRandom...)
	block := prf12(s.hash.New, master, "key expansion", seed, 2*s.keyLen+2*ivLen)
	return trafficKeys{
		key: block[s.keyLen : 2*s.keyLen],
		iv:  block[2*s.keyLen+ivLen : 2*s.keyLen+2*ivLen],
	}
}

// errOpen means a record did not authenticate under the key tried.
var errOpen = errors.New("edgekit/ktls: record does not open under this key")

// openRecord decrypts one protected record (header included) sent with the
// given keys and sequence number, returning the content type and plaintext.
// It is how ktls tells, from the bytes crypto/tls wrote during the handshake,
// how many records were already sent under the key it hands to the kernel.
func openRecord(s suite, k trafficKeys, seq uint64, rec []byte) (typ byte, plain []byte, err error) {
	if len(rec) < recordHeaderLen+aeadTagLen {
		return 0, nil, errOpen
	}
	aead, err := s.newAEAD(k.key)
	if err != nil {
		return 0, nil, err
	}
	hdr, payload := rec[:recordHeaderLen], rec[recordHeaderLen:]
	nonce := make([]byte, 12)
	if s.version == 0x0304 {
		xorSeq(nonce, k.iv, seq)
		plain, err = aead.Open(nil, nonce, payload, hdr)
		if err != nil {
			return 0, nil, errOpen
		}
		// Strip zero padding; the last non-zero byte is the real content type.
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		if i < 0 {
			return 0, nil, errOpen
		}
		return plain[i], plain[:i], nil
	}
	if s.chacha() {
		xorSeq(nonce, k.iv, seq)
	} else {
		if len(payload) < gcmExplicitLen+aeadTagLen {
			return 0, nil, errOpen
		}
		copy(nonce, k.iv[:4])
		copy(nonce[4:], payload[:gcmExplicitLen])
		payload = payload[gcmExplicitLen:]
	}
	aad := binary.BigEndian.AppendUint64(make([]byte, 0, 13), seq)
	aad = append(aad, hdr[0], hdr[1], hdr[2])
	aad = binary.BigEndian.AppendUint16(aad, uint16(len(payload)-aeadTagLen))
	plain, err = aead.Open(nil, nonce, payload, aad)
	if err != nil {
		return 0, nil, errOpen
	}
	return hdr[0], plain, nil
}

// xorSeq writes iv XOR the big-endian sequence number (left-padded) to dst.
func xorSeq(dst, iv []byte, seq uint64) {
	copy(dst, iv)
	for i := 0; i < 8; i++ {
		dst[len(dst)-1-i] ^= byte(seq >> (8 * i))
	}
}
