package kms

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func testEnvelope(t testing.TB) (key, env []byte) {
	key = make([]byte, 32)
	rand.Read(key)
	env, err := seal(key, []byte("wrapped-data-key"), []byte("plain"))
	if err != nil {
		t.Fatal(err)
	}
	return key, env
}

func TestEnvelopeRoundTrip(t *testing.T) {
	key, env := testEnvelope(t)
	e, err := parseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if string(e.wrappedKey) != "wrapped-data-key" {
		t.Fatalf("wrapped key %q", e.wrappedKey)
	}
	got, err := e.open(key)
	if err != nil || string(got) != "plain" {
		t.Fatalf("open: %q %v", got, err)
	}
	if !bytes.Equal(e.marshal(), env) {
		t.Fatal("marshal does not give the input back")
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	key, env := testEnvelope(t)
	for i := 0; i < len(env); i++ {
		_, err := parseEnvelope(env[:i])
		if i < 4 {
			continue // no magic: not taken for an envelope at all
		}
		if !errors.Is(err, ErrTruncated) || !errors.Is(err, providers.ErrInvalid) {
			t.Fatalf("%d bytes: %v", i, err)
		}
	}
	v2 := bytes.Clone(env)
	v2[4] = 2
	if _, err := parseEnvelope(v2); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("version 2: %v", err)
	}
	if _, err := parseEnvelope(append(bytes.Clone(env), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := bytes.Clone(env)
	bad[len(bad)-1] ^= 1
	e, err := parseEnvelope(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.open(key); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("flipped tag: %v", err)
	}
	if !strings.Contains(ErrUnknownVersion.Error(), "unknown envelope version") {
		t.Fatal(ErrUnknownVersion)
	}
}

func FuzzEnvelope(f *testing.F) {
	key, env := testEnvelope(f)
	f.Add(env)
	f.Add(env[:20])
	f.Add([]byte("SRKE\x02"))
	f.Add([]byte("SRKE\x01\x00\x01\x00\x00\x00\x10"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := parseEnvelope(data)
		if err != nil {
			if !errors.Is(err, providers.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if len(data) >= 8 && strings.Contains(err.Error(), string(data[4:])) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if !bytes.Equal(e.marshal(), data) {
			t.Fatal("a parsed envelope does not marshal back to its input")
		}
		if out, err := e.open(key); err == nil && !bytes.Equal(data, env) {
			t.Fatalf("a changed envelope opened: %q", out)
		}
	})
}
