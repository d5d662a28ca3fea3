package kms

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// The provider and Options hold a KMS client, whose own printing shows its
// credentials (an SDK client prints its static secret key under %s), and
// the provider holds locks and guarded memory: fmt must never walk them.

// String describes the provider: its scheme and how many data keys it
// caches, never a key, a value or the client.
func (c *core) String() string {
	s := "kms.Provider{" + c.scheme
	if c.keys == nil {
		return s + ", no data-key cache}"
	}
	return s + ", " + strconv.Itoa(c.keys.held()) + " data keys cached}"
}

// Format writes String for every fmt verb.
func (c *core) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue makes slog log String.
func (c *core) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalText returns String.
func (c *core) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// String describes the options without the client or the inner provider:
// only whether they are set.
func (o Options) String() string {
	s := "kms.Options{inner=" + strconv.Quote(o.InnerScheme)
	if o.KeyID != "" {
		s += " key=" + strconv.Quote(o.KeyID)
	}
	if len(o.DecryptKeyIDs) > 0 {
		s += " decrypt-keys=" + strconv.Itoa(len(o.DecryptKeyIDs))
	}
	if o.Base64 {
		s += " base64"
	}
	if o.DataKeyTTL != 0 {
		s += " data-key-ttl=" + o.DataKeyTTL.String()
	}
	if o.DataKeyCacheSize != 0 {
		s += " data-key-cache-size=" + strconv.Itoa(o.DataKeyCacheSize)
	}
	for _, set := range []struct {
		name string
		ok   bool
	}{{"client", o.Client != nil}, {"inner-provider", o.Inner != nil}, {"clock", o.Clock != nil}} {
		if set.ok {
			s += " " + set.name + "=set"
		}
	}
	return s + "}"
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Format writes String for every fmt verb.
func (o Options) Format(f fmt.State, _ rune) { io.WriteString(f, o.String()) }

// LogValue makes slog log String.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalText returns String.
func (o Options) MarshalText() ([]byte, error) { return []byte(o.String()), nil }
