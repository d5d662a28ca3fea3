package rotate

import (
	"bytes"
	"strings"
	"testing"
)

func TestSplitAccount(t *testing.T) {
	for _, c := range []struct {
		in, account, secret string
		ok                  bool
	}{
		{`{"account":"app_b","secret":"s3cr3t-P4ss"}`, "app_b", "s3cr3t-P4ss", true},
		{`{"account":"a","secret":"x"}`, "a", "x", true},
		{`{"account":"","secret":"x"}`, "", "", false},
		{`{"account":"a b","secret":"x"}`, "", "", false},
		{`{"account":"a","secret":""}`, "", "", false},
		{`{"account":"a","secret":"x"y"}`, "", "", false},
		{`{"account":"a","secret":"x\y"}`, "", "", false},
		{`{"secret":"x","account":"a"}`, "", "", false},
		{`{"account":"a", "secret":"x"}`, "", "", false},
		{`{"account":"a","secret":"x"} `, "", "", false},
		{`plain-password`, "", "", false},
		{`{"account":"` + strings.Repeat("a", 64) + `","secret":"x"}`, "", "", false},
	} {
		a, s, err := SplitAccount([]byte(c.in))
		if (err == nil) != c.ok || a != c.account || string(s) != c.secret {
			t.Errorf("SplitAccount(%s) = %q, %q, %v; want %q, %q, ok %v", c.in, a, s, err, c.account, c.secret, c.ok)
		}
	}
}

func TestPutAccountRoundTrip(t *testing.T) {
	v := make([]byte, accountSize("app_a", 5))
	copy(putAccount(v, "app_a"), "hello")
	a, s, err := SplitAccount(v)
	if err != nil || a != "app_a" || string(s) != "hello" {
		t.Fatalf("round trip: %q %q %v (%s)", a, s, err, v)
	}
	if &s[0] != &v[accountSize("app_a", 5)-len(accountSuffix)-5] {
		t.Error("the secret is a copy, not a slice of the value")
	}
}

// FuzzSplitAccount: SplitAccount never panics, its error never quotes the
// input, and what it accepts it gives back as a slice that rebuilds the
// input exactly.
func FuzzSplitAccount(f *testing.F) {
	f.Add([]byte(`{"account":"app_b","secret":"s3cr3t"}`))
	f.Add([]byte(`{"account":"a","secret":"x\"}`))
	f.Add([]byte(`{"account":"`))
	f.Fuzz(func(t *testing.T, v []byte) {
		a, s, err := SplitAccount(v)
		if err != nil {
			msg := err.Error()
			for _, part := range bytes.FieldsFunc(v, func(r rune) bool { return !accountByte(byte(r)) || r > 0x7e }) {
				if len(part) >= 6 && !strings.Contains(`{"account":"","secret":""}`, string(part)) && strings.Contains(msg, string(part)) {
					t.Fatalf("error %q quotes %q of the input", msg, part)
				}
			}
			return
		}
		w := make([]byte, accountSize(a, len(s)))
		copy(putAccount(w, a), s)
		if !bytes.Equal(v, w) {
			t.Fatalf("accepted %q but rebuilt %q", v, w)
		}
	})
}
