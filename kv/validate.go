package kv

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The Check functions enforce the limits of the Store contract. Every
// backend calls them at the top of its methods so that all backends reject
// the same inputs with the same error (ErrInvalid, wrapped with detail); the
// Client calls them before it calls a Store. They allocate only on error.

// CheckNamespace reports whether ns is a valid namespace name:
// ^[a-z][a-z0-9_]*$ and at most MaxNamespaceLen bytes.
func CheckNamespace(ns string) error {
	if ns == "" || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("%w: namespace %q must be 1..%d bytes", ErrInvalid, ns, MaxNamespaceLen)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		lower := c >= 'a' && c <= 'z'
		if i == 0 && !lower {
			return fmt.Errorf("%w: namespace %q must start with a-z", ErrInvalid, ns)
		}
		if !lower && !(c >= '0' && c <= '9') && c != '_' {
			return fmt.Errorf("%w: namespace %q may hold only a-z, 0-9 and _", ErrInvalid, ns)
		}
	}
	return nil
}

// CheckID reports whether id is a valid record id: non-empty valid UTF-8 of
// at most MaxIDLen bytes.
func CheckID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty record id", ErrInvalid)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: record id of %d bytes exceeds %d", ErrInvalid, len(id), MaxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: record id is not valid UTF-8", ErrInvalid)
	}
	return nil
}

// CheckKey reports whether key is a valid item key (at most MaxKeyLen bytes).
func CheckKey(key []byte) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalid, len(key), MaxKeyLen)
	}
	return nil
}

// checkRange rejects a range whose bounds are both set and inverted. An
// empty range (start == end) is valid and selects nothing.
func checkRange(start, end []byte) error {
	if err := CheckKey(start); err != nil {
		return err
	}
	if err := CheckKey(end); err != nil {
		return err
	}
	if start != nil && end != nil && bytes.Compare(start, end) > 0 {
		return fmt.Errorf("%w: range start %q is after end %q", ErrInvalid, start, end)
	}
	return nil
}

// CheckMutations reports whether every mutation of one Apply call is valid:
// a known Op, a positive Timestamp, keys within MaxKeyLen, a non-nil Value
// on OpPut, no negative TTL, and zero values in the fields its Op does not
// use. An empty list is valid (Apply does nothing).
func CheckMutations(muts []Mutation) error {
	for i := range muts {
		if err := checkMutation(&muts[i]); err != nil {
			// Keep the sentinel's text first: "edgekit/kv: invalid
			// argument: mutation 2 (put): nil value on put ...".
			detail := strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
			return fmt.Errorf("%w: mutation %d (%v): %s", ErrInvalid, i, muts[i].Op, detail)
		}
	}
	return nil
}

func checkMutation(m *Mutation) error {
	if m.Timestamp <= 0 {
		return fmt.Errorf("%w: timestamp %d must be > 0", ErrInvalid, m.Timestamp)
	}
	// unused collects fields set that the op ignores; setting one is almost
	// always a caller bug (e.g. a Value on a delete), so it is refused.
	unused := ""
	switch m.Op {
	case OpPut:
		if m.Value == nil {
			return fmt.Errorf("%w: nil value on put (use []byte{} for an empty value)", ErrInvalid)
		}
		if m.TTL < 0 {
			return fmt.Errorf("%w: negative TTL %v", ErrInvalid, m.TTL)
		}
		if m.End != nil {
			unused = "End"
		}
		return firstErr(CheckKey(m.Key), unusedErr(unused))
	case OpDelete:
		if m.End != nil {
			unused = "End"
		}
		if err := CheckKey(m.Key); err != nil {
			return err
		}
	case OpDeleteRange:
		if err := checkRange(m.Key, m.End); err != nil {
			return err
		}
	case OpDeleteRecord:
		if m.Key != nil || m.End != nil {
			unused = "Key/End"
		}
	default:
		return fmt.Errorf("%w: unknown op %d", ErrInvalid, uint8(m.Op))
	}
	// Deletes carry no value, metadata or TTL.
	if m.Value != nil || m.Metadata != nil || m.TTL != 0 {
		unused = "Value/Metadata/TTL"
	}
	return unusedErr(unused)
}

func unusedErr(field string) error {
	if field == "" {
		return nil
	}
	return fmt.Errorf("%w: field %s must be zero for this op", ErrInvalid, field)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckQuery reports whether q is valid: keys within MaxKeyLen, Start not
// after End, and no negative Limit or MaxBytes. It does not judge
// q.Cursor, which only the Store that issued it can decode.
func CheckQuery(q Query) error {
	if q.Limit < 0 || q.MaxBytes < 0 {
		return fmt.Errorf("%w: negative Limit (%d) or MaxBytes (%d)", ErrInvalid, q.Limit, q.MaxBytes)
	}
	if q.Keys != nil {
		for _, k := range q.Keys {
			if err := CheckKey(k); err != nil {
				return err
			}
		}
		return nil
	}
	return checkRange(q.Start, q.End)
}

// CheckReadInto validates the arguments of IntoReader.ReadInto as every
// implementation must: a valid namespace and id, one buffer per key, and
// keys within MaxKeyLen.
func CheckReadInto(ns, id string, keys, dsts [][]byte) error {
	if err := firstErr(CheckNamespace(ns), CheckID(id)); err != nil {
		return err
	}
	if len(keys) != len(dsts) {
		return fmt.Errorf("%w: %d keys, %d buffers", ErrInvalid, len(keys), len(dsts))
	}
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return err
		}
	}
	return nil
}
