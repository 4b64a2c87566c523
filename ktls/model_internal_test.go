package ktls

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// modelKernel is a user-space model of the kernel's TLS send path. It takes
// exactly the bytes ktls would pass to setsockopt(SOL_TLS, TLS_TX), parses
// them the way the kernel does (struct tls12_crypto_info_*), and seals
// records as tls_sw does: one record per ≤16 KiB chunk of each write, nonce
// salt‖iv XOR rec_seq (TLS 1.3, ChaCha20) or salt‖iv with iv sent as the
// explicit nonce and incremented per record (TLS 1.2 AES-GCM). A stock
// crypto/tls client reading the result proves the derived keys, IVs and
// sequence numbers right without kernel support.
type modelKernel struct {
	mu       sync.Mutex // guards txs, installs, controls
	txs      map[net.Conn]*modelTX
	installs []modelInstall
	controls []modelControl
}

type modelInstall struct {
	version, cipher uint16
	seq             uint64
	rekey           bool
	size            int
}

type modelControl struct {
	typ     byte
	payload []byte
}

// modelTX is one socket's send state, as in struct tls_context / cipher_context.
type modelTX struct {
	version, cipher uint16
	aead            cipher.AEAD
	salt, iv        []byte
	seq             uint64
	maxRecord       int // largest ciphertext payload written, for the ≤16 KiB check
}

func newModelKernel() *modelKernel { return &modelKernel{txs: map[net.Conn]*modelTX{}} }

// parseCryptoInfo decodes setsockopt bytes with the kernel's per-cipher sizes.
func parseCryptoInfo(b []byte) (*modelTX, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("crypto_info of %d bytes", len(b))
	}
	t := &modelTX{version: binary.NativeEndian.Uint16(b[0:]), cipher: binary.NativeEndian.Uint16(b[2:])}
	var ivLen, keyLen, saltLen int
	switch t.cipher {
	case 51:
		ivLen, keyLen, saltLen = 8, 16, 4
	case 52:
		ivLen, keyLen, saltLen = 8, 32, 4
	case 54:
		ivLen, keyLen, saltLen = 12, 32, 0
	default:
		return nil, fmt.Errorf("cipher %d", t.cipher)
	}
	if t.version != 0x0303 && t.version != 0x0304 {
		return nil, fmt.Errorf("version %#x", t.version)
	}
	if want := 4 + ivLen + keyLen + saltLen + 8; len(b) != want {
		return nil, fmt.Errorf("crypto_info is %d bytes, want %d (EINVAL)", len(b), want)
	}
	p := b[4:]
	t.iv = append([]byte(nil), p[:ivLen]...)
	key := p[ivLen : ivLen+keyLen]
	t.salt = append([]byte(nil), p[ivLen+keyLen:ivLen+keyLen+saltLen]...)
	t.seq = binary.BigEndian.Uint64(p[ivLen+keyLen+saltLen:])
	var err error
	if t.cipher == 54 {
		t.aead, err = chacha20poly1305.New(key)
	} else {
		var blk cipher.Block
		if blk, err = aes.NewCipher(key); err == nil {
			t.aead, err = cipher.NewGCM(blk)
		}
	}
	return t, err
}

// seal produces one record of content type typ.
func (t *modelTX) seal(typ byte, data []byte) []byte {
	nonce := make([]byte, 12)
	copy(nonce, t.salt)
	copy(nonce[len(t.salt):], t.iv)
	var rec []byte
	if t.version == 0x0304 {
		for i := 0; i < 8; i++ {
			nonce[11-i] ^= byte(t.seq >> (8 * i))
		}
		inner := append(append([]byte(nil), data...), typ)
		hdr := []byte{23, 3, 3, 0, 0}
		binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+t.aead.Overhead()))
		rec = t.aead.Seal(hdr, nonce, inner, hdr)
	} else {
		aad := binary.BigEndian.AppendUint64(nil, t.seq)
		aad = append(aad, typ, 3, 3)
		aad = binary.BigEndian.AppendUint16(aad, uint16(len(data)))
		hdr := []byte{typ, 3, 3, 0, 0}
		if t.cipher == 54 {
			for i := 0; i < 8; i++ {
				nonce[11-i] ^= byte(t.seq >> (8 * i))
			}
			binary.BigEndian.PutUint16(hdr[3:], uint16(len(data)+t.aead.Overhead()))
			rec = t.aead.Seal(hdr, nonce, data, aad)
		} else {
			binary.BigEndian.PutUint16(hdr[3:], uint16(8+len(data)+t.aead.Overhead()))
			rec = append(hdr, t.iv...)
			rec = t.aead.Seal(rec, nonce, data, aad)
			// The explicit nonce is a 64-bit counter the kernel increments.
			binary.BigEndian.PutUint64(t.iv, binary.BigEndian.Uint64(t.iv)+1)
		}
	}
	t.seq++
	t.maxRecord = max(t.maxRecord, len(rec)-5)
	return rec
}

func (m *modelKernel) install(raw net.Conn, ci *cryptoInfo, rekey bool) error {
	b := ci.marshal()
	t, err := parseCryptoInfo(b)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, had := m.txs[raw]; had != rekey {
		return fmt.Errorf("model: rekey=%v but socket had keys=%v", rekey, had)
	}
	m.txs[raw] = t
	m.installs = append(m.installs, modelInstall{version: t.version, cipher: t.cipher, seq: t.seq, rekey: rekey, size: len(b)})
	return nil
}

func (m *modelKernel) sendControl(raw net.Conn, typ byte, payload []byte) error {
	m.mu.Lock()
	t := m.txs[raw]
	m.controls = append(m.controls, modelControl{typ, append([]byte(nil), payload...)})
	rec := t.seal(typ, payload)
	m.mu.Unlock()
	_, err := raw.Write(rec)
	return err
}

func (m *modelKernel) data(raw net.Conn) interface{ Write([]byte) (int, error) } {
	return modelWriter{m, raw}
}

// sendfile is false: the model cannot see into sendfile(2), so SendFile on a
// model connection takes the copy path through data.
func (m *modelKernel) sendfile() bool { return false }

type modelWriter struct {
	m   *modelKernel
	raw net.Conn
}

// Write seals b into records of at most 16 KiB, as tls_sw_sendmsg does for a
// write without MSG_MORE.
func (w modelWriter) Write(b []byte) (int, error) {
	w.m.mu.Lock()
	t := w.m.txs[w.raw]
	var out bytes.Buffer
	for p := b; len(p) > 0; {
		n := min(len(p), 1<<14)
		out.Write(t.seal(23, p[:n]))
		p = p[n:]
	}
	w.m.mu.Unlock()
	if _, err := w.raw.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// snapshot returns copies of what the model saw.
func (m *modelKernel) snapshot() ([]modelInstall, []modelControl, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	maxRec := 0
	for _, t := range m.txs {
		maxRec = max(maxRec, t.maxRecord)
	}
	return append([]modelInstall(nil), m.installs...), append([]modelControl(nil), m.controls...), maxRec
}
