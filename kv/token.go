package kv

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrTokenWindow is wrapped by the *TokenError a write returns when its
// idempotency token's generation time lies too far in the past or future.
var ErrTokenWindow = errors.New("edgekit/kv: idempotency token outside the accepted time window")

// Token is an idempotency token, Netflix's {generation_time, token}: the
// client-side generation time of a mutation and 128 random bits.
//
// The Client stamps every cell a write produces with Time (in microseconds)
// as its Store timestamp, so last-writer-wins orders writes by generation
// time, and derives everything else the write stores (chunk write ids, TTL
// jitter) from the token. A retried or hedged write that reuses the token
// therefore produces the same cells and applies once; a write that lost to
// a newer one stays lost when retried. Use one token per logical write.
//
// The zero Token means "none": the Client generates a fresh one. A Token
// is a plain value: copy it, compare it with ==, share it freely.
type Token struct {
	// Time is the generation time; only microseconds are kept.
	Time time.Time
	// Random distinguishes writes generated in the same microsecond.
	Random [16]byte
}

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t.Time.IsZero() && t.Random == [16]byte{} }

// Micros returns the generation time in microseconds since the Unix epoch,
// the Store timestamp of the token's writes.
func (t Token) Micros() int64 { return t.Time.UnixMicro() }

// String renders t as "<micros>-<32 hex digits>"; ParseToken reads it back.
func (t Token) String() string {
	return strconv.FormatInt(t.Micros(), 10) + "-" + hex.EncodeToString(t.Random[:])
}

// ParseToken parses the String form of a Token, for callers that carry
// tokens across processes (a retry queue, an RPC).
func ParseToken(s string) (Token, error) {
	us, rnd, ok := strings.Cut(s, "-")
	n, err := strconv.ParseInt(us, 10, 64)
	var t Token
	if !ok || err != nil || n <= 0 || len(rnd) != 32 {
		return Token{}, fmt.Errorf("%w: malformed token %q", ErrInvalid, s)
	}
	if _, err := hex.Decode(t.Random[:], []byte(rnd)); err != nil {
		return Token{}, fmt.Errorf("%w: malformed token %q", ErrInvalid, s)
	}
	t.Time = time.UnixMicro(n)
	return t, nil
}

// TokenError reports a token rejected by the Client's time window. Far-past
// tokens would be silently discarded by last-writer-wins (older than what
// they meant to overwrite), far-future ones would make cells no honest
// write can replace for a long time ("doomstones"), so both are refused.
type TokenError struct {
	Token  Token
	Now    time.Time     // the Client's clock when it checked
	Window time.Duration // the limit exceeded (MaxTokenAge or MaxTokenSkew)
	Future bool          // true: too far ahead; false: too old
}

func (e *TokenError) Error() string {
	d := e.Now.Sub(e.Token.Time)
	if e.Future {
		return fmt.Sprintf("%v: token %v is %v in the future (limit %v)", ErrTokenWindow, e.Token, -d, e.Window)
	}
	return fmt.Sprintf("%v: token %v is %v old (limit %v)", ErrTokenWindow, e.Token, d, e.Window)
}

// Unwrap returns ErrTokenWindow.
func (e *TokenError) Unwrap() error { return ErrTokenWindow }

// NewToken returns a token generated now by the Client's clock and
// randomness. Token times from one Client strictly increase (Netflix's
// client-side monotonic generation time): a token issued in the same
// microsecond as the previous one, or after the clock stepped back, gets
// the previous time plus one microsecond, so a Client's own writes are
// ordered as issued — a delete after a put hides it — even on a coarse or
// frozen clock.
func (c *Client) NewToken() (Token, error) {
	now := c.now().UnixMicro()
	var us int64
	for {
		last := c.lastToken.Load()
		us = max(now, last+1)
		if c.lastToken.CompareAndSwap(last, us) {
			break
		}
	}
	t := Token{Time: time.UnixMicro(us)}
	if _, err := c.rand.Read(t.Random[:]); err != nil {
		return Token{}, fmt.Errorf("edgekit/kv: reading randomness for a token: %w", err)
	}
	return t, nil
}

// checkToken rejects t if it lies outside [now-MaxTokenAge, now+MaxTokenSkew].
func (c *Client) checkToken(t Token) error {
	now := c.now()
	switch d := now.Sub(t.Time); {
	case d > c.opts.MaxTokenAge:
		return &TokenError{Token: t, Now: now, Window: c.opts.MaxTokenAge}
	case -d > c.opts.MaxTokenSkew:
		return &TokenError{Token: t, Now: now, Window: c.opts.MaxTokenSkew, Future: true}
	}
	if t.Micros() <= 1 {
		return fmt.Errorf("%w: token time %v is not after the Unix epoch", ErrInvalid, t.Time)
	}
	return nil
}

// jitter returns the extra TTL for a put of key under token t: a fraction
// in [0, TTLJitter) of ttl, derived from the token and key so a retry of
// the same write gets the same expiry offset, while items written together
// spread their expiries instead of all lapsing in the same second.
func (c *Client) jitter(t Token, key []byte, ttl time.Duration) time.Duration {
	if ttl <= 0 || c.opts.TTLJitter <= 0 {
		return 0
	}
	h := digest(t.Random[:], key)
	u := float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53) // uniform [0,1)
	return time.Duration(u * c.opts.TTLJitter * float64(ttl))
}
