package ktls

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
)

// nextRecord splits the first complete TLS record (header included) off b.
func nextRecord(b []byte) (rec, rest []byte, ok bool) {
	if len(b) < recordHeaderLen {
		return nil, b, false
	}
	n := recordHeaderLen + int(binary.BigEndian.Uint16(b[3:5]))
	if len(b) < n {
		return nil, b, false
	}
	return b[:n], b[n:], true
}

// txState is what ktls hands the kernel plus what it needs later to follow
// crypto/tls's own (now shadow) write state.
type txState struct {
	s      suite
	keys   trafficKeys // keys of the first kernel record
	seq    uint64      // sequence number of the first kernel record
	secret []byte      // TLS 1.3 traffic secret behind keys (for KeyUpdate)
}

// deriveTX computes the server's send keys and next record sequence number
// from what the wire saw during the handshake.
//
// The sequence number is not guessed from crypto/tls's habits (one session
// ticket or none, a Finished in TLS 1.2): every record crypto/tls wrote after
// the ServerHello is opened, and the ones that authenticate under the traffic
// key are counted. Anything that neither key explains means ktls does not
// understand the stream, and the connection stays in userspace.
func deriveTX(s suite, hr handshakeRecord) (*txState, error) {
	if hr.overflow {
		return nil, fmt.Errorf("%w: handshake larger than %d bytes", ErrSequence, maxRecorded)
	}
	if s.version == tls.VersionTLS13 {
		return deriveTX13(s, hr)
	}
	return deriveTX12(s, hr)
}

// oneSecret returns the single secret logged under label.
func oneSecret(hr handshakeRecord, label string) ([]byte, error) {
	switch v := hr.secrets[label]; len(v) {
	case 1:
		return v[0], nil
	case 0:
		return nil, fmt.Errorf("%w: no %s line", ErrNoSecrets, label)
	default:
		return nil, fmt.Errorf("%w: %d %s lines for one client random", ErrNoSecrets, len(v), label)
	}
}

func deriveTX13(s suite, hr handshakeRecord) (*txState, error) {
	secret, err := oneSecret(hr, labelServerTraffic13)
	if err != nil {
		return nil, err
	}
	app, err := tls13Keys(s, secret)
	if err != nil {
		return nil, err
	}
	var hs *trafficKeys
	if hsSecret, err := oneSecret(hr, labelServerHandshake13); err == nil {
		k, err := tls13Keys(s, hsSecret)
		if err != nil {
			return nil, err
		}
		hs = &k
	}
	// Flight after the ServerHello: an optional dummy ChangeCipherSpec, then
	// protected records under the handshake key (EncryptedExtensions …
	// Finished) and then under the application key (NewSessionTicket).
	var hsSeq, appSeq uint64
	for b := hr.out; len(b) > 0; {
		rec, rest, ok := nextRecord(b)
		if !ok {
			return nil, fmt.Errorf("%w: truncated record in handshake flight", ErrSequence)
		}
		b = rest
		if rec[0] != recordAppData {
			continue // plaintext ServerHello / HelloRetryRequest / ChangeCipherSpec
		}
		if _, _, err := openRecord(s, app, appSeq, rec); err == nil {
			appSeq++
			continue
		}
		if appSeq > 0 {
			return nil, fmt.Errorf("%w: record after application record %d does not open", ErrSequence, appSeq)
		}
		if hs != nil {
			if _, _, err := openRecord(s, *hs, hsSeq, rec); err != nil {
				return nil, fmt.Errorf("%w: handshake record %d opens under neither key", ErrSequence, hsSeq)
			}
		}
		hsSeq++
	}
	if hsSeq == 0 {
		return nil, fmt.Errorf("%w: no protected handshake records seen", ErrSequence)
	}
	return &txState{s: s, keys: app, seq: appSeq, secret: bytes.Clone(secret)}, nil
}

func deriveTX12(s suite, hr handshakeRecord) (*txState, error) {
	master, err := oneSecret(hr, labelMaster12)
	if err != nil {
		// A resumed session logs no CLIENT_RANDOM; its master secret came
		// from the ticket.
		if resumed, rerr := oneSecret(hr, labelResumed12); rerr == nil {
			master, err = resumed, nil
		}
	}
	if err != nil {
		return nil, err
	}
	serverRandom, ok := helloRandom(hr.out, 2)
	if !ok {
		return nil, fmt.Errorf("%w: no ServerHello at the start of the server flight", ErrSequence)
	}
	keys := tls12ServerKeys(s, master, hr.clientRandom[:], serverRandom[:])
	// Everything after the server's ChangeCipherSpec is protected under the
	// new keys: the Finished (seq 0) and nothing else from crypto/tls.
	var seq uint64
	protected := false
	for b := hr.out; len(b) > 0; {
		rec, rest, ok := nextRecord(b)
		if !ok {
			return nil, fmt.Errorf("%w: truncated record in handshake flight", ErrSequence)
		}
		b = rest
		if !protected {
			protected = rec[0] == recordChangeCiphr
			continue
		}
		if _, _, err := openRecord(s, keys, seq, rec); err != nil {
			return nil, fmt.Errorf("%w: record %d after ChangeCipherSpec does not open", ErrSequence, seq)
		}
		seq++
	}
	if seq == 0 {
		return nil, fmt.Errorf("%w: no protected Finished seen", ErrSequence)
	}
	return &txState{s: s, keys: keys, seq: seq}, nil
}

// cryptoInfo returns the kernel argument for st.
func (st *txState) cryptoInfo() *cryptoInfo {
	return newCryptoInfo(st.s, st.keys.key, st.keys.iv, st.seq)
}
