package leak

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRunLength(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 3}, {1, 3}, {4, 3}, {12, 3}, {13, 4}, {28, 7}, {29, 8}, {32, 8}, {200, 8},
	} {
		if got := RunLength(tc.n); got != tc.want {
			t.Errorf("RunLength(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestQuotes(t *testing.T) {
	secret := []byte("s3cr3t-Client-Secret-0123456789abcdef")
	long := strings.Repeat("unrelated text ", 100)
	for _, tc := range []struct {
		name string
		text string
		want bool
	}{
		{"exact echo", "bad secret " + string(secret), true},
		{"prefix", "bad secret " + string(secret[:10]), true},
		{"all but one byte", "secret " + string(secret[:len(secret)-1]) + "!", true},
		{"eight bytes from the middle", "near " + string(secret[12:20]) + " here", true},
		{"case changed", "bad: " + strings.ToUpper(string(secret)), true},
		{"seven bytes only", "bad: " + string(secret[3:10]), false},
		{"in a long text", long + string(secret[20:28]) + long, true},
		{"long text without it", long, false},
		{"unrelated", "invalid_client: client authentication failed", false},
		{"empty text", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quotes(tc.text, secret); got != tc.want {
				t.Errorf("Quotes(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestQuotesShortSecret(t *testing.T) {
	// A 12-byte secret counts runs of 3.
	secret := []byte("Kx9-pQ2-zR7w")
	if !Quotes("the key ends in r7w", secret) {
		t.Error("a quarter of a short secret, case-changed, was not caught")
	}
	if Quotes("no overlap here", secret) {
		t.Error("text sharing no 3-byte run was withheld")
	}
}

func TestQuotesInvalidUTF8(t *testing.T) {
	// A binary secret echoed by a decoder that replaced its invalid bytes.
	secret := []byte{0xff, 'a', 'b', 'c', 0xfe, 'd', 'e', 'f', 0x80, 'g', 'h', 'i', 0xc3}
	echo := string(bytes.ToValidUTF8(secret, []byte("\uFFFD")))
	// bytes.ToValidUTF8 merges runs; a decoder replacing byte by byte gives
	// the same here, since no two invalid bytes are adjacent.
	if !Quotes("echo: "+echo, secret) {
		t.Errorf("a secret echoed with its invalid UTF-8 replaced was not caught")
	}
	if !Quotes("raw: "+string(secret), secret) {
		t.Errorf("a raw binary echo was not caught")
	}
}

func TestQuotesSeveral(t *testing.T) {
	a, b := []byte("first-credential-aaaa"), []byte("second-credential-bbbb")
	if !Quotes("x "+string(b[5:15]), a, b) {
		t.Error("the second secret was not looked for")
	}
	if Quotes("anything", nil, []byte{}) {
		t.Error("empty secrets matched")
	}
}

func TestPEMArmorIsNotARun(t *testing.T) {
	key := []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n")
	if Quotes("certs: parse: expected a PRIVATE KEY block, found none", key) {
		t.Error("an error naming the PEM block type was taken for a quote of the key")
	}
	if !Quotes("bad key MIGHAgEAMBMGByq", key) {
		t.Error("a run of the key's content was not caught")
	}
}

func TestNormalizeNeverReallocates(t *testing.T) {
	in := bytes.Repeat([]byte{0xff}, 100)
	out := normalize(in)
	if cap(out) != 3*len(in) || len(out) != 3*len(in) {
		t.Fatalf("len %d cap %d, want both %d", len(out), cap(out), 3*len(in))
	}
}

// naive is the definition Quotes implements, by brute force.
func naive(text string, secret []byte) bool {
	if len(secret) == 0 || text == "" {
		return false
	}
	t, s := normalize([]byte(text)), normalize(secret)
	blankArmor(s)
	k := min(RunLength(len(secret)), len(s))
	for i := 0; i+k <= len(s); i++ {
		for j := 0; j+k <= len(t); j++ {
			if bytes.Equal(s[i:i+k], t[j:j+k]) {
				return true
			}
		}
	}
	return false
}

func FuzzQuotes(f *testing.F) {
	f.Add("invalid_client: "+strings.Repeat("y", 300), []byte("client-secret-xyz"))
	f.Add(strings.Repeat("ab", 200), bytes.Repeat([]byte("ba"), 40))
	f.Add("\xff\xfe", []byte{0xff})
	f.Fuzz(func(t *testing.T, text string, secret []byte) {
		if got, want := Quotes(text, secret), naive(text, secret); got != want {
			t.Fatalf("Quotes = %v, brute force = %v", got, want)
		}
		// Anything that contains the secret whole must be caught, unless
		// it is all PEM armor. (The space keeps the text's last bytes
		// from completing a UTF-8 sequence with the secret's first.)
		n := normalize(secret)
		blankArmor(n)
		if bytes.ContainsFunc(n, func(r rune) bool { return r != armorByte && r != utf8.RuneError }) && !Quotes(text+" "+string(secret), secret) {
			t.Fatal("a whole echo was not caught")
		}
	})
}
