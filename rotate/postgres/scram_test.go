package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestVerifierRFC7677 checks the verifier's keys against the example
// exchange of RFC 7677 section 3 (user "user", password "pencil"): the
// client proof and the server signature it gives follow from StoredKey
// and ServerKey alone.
func TestVerifierRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v := scramVerifier([]byte("pencil"), salt, 4096)
	storedKey, serverKey := parseVerifier(t, v, "W22ZaJ0SNY7soEsUEjb6gQ==", 4096)

	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	if got, want := b64(hmacSHA256(serverKey, authMessage)), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; got != want {
		t.Errorf("ServerSignature = %s, want %s (RFC 7677)", got, want)
	}
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and
	// StoredKey = SHA-256(ClientKey): what a server checks at login.
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	clientKey := hmacSHA256(storedKey, authMessage)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	if got := sha256.Sum256(clientKey); string(got[:]) != string(storedKey) {
		t.Errorf("the RFC's client proof does not match StoredKey %s", b64(storedKey))
	}
}

// TestSaltedPasswordMatchesStandardLibrary compares the PBKDF2 written
// here with crypto/pbkdf2, for passwords shorter and longer than a block
// of SHA-256 and a few iteration counts.
func TestSaltedPasswordMatchesStandardLibrary(t *testing.T) {
	salt := []byte("0123456789abcdef")
	for _, pw := range []string{"p", "pencil", strings.Repeat("x", 64), strings.Repeat("long password ", 10)} {
		for _, iter := range []int{1, 2, 4096} {
			want, err := pbkdf2.Key(sha256.New, pw, salt, iter, sha256.Size)
			if err != nil {
				t.Fatal(err)
			}
			var got [sha256.Size]byte
			saltedPassword(&got, []byte(pw), salt, iter)
			if string(got[:]) != string(want) {
				t.Errorf("len %d, %d iterations: %x, want %x", len(pw), iter, got, want)
			}
		}
	}
}

func TestVerifierFormat(t *testing.T) {
	salt := make([]byte, scramSaltLen)
	v := scramVerifier([]byte("correct horse"), salt, scramIterations)
	re := regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`)
	if !re.MatchString(v) {
		t.Errorf("verifier %q does not match %s", v, re)
	}
	if strings.ContainsAny(v, `'\`) {
		t.Errorf("verifier %q holds a character a SQL literal would need to escape", v)
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tt := range []struct {
		name string
		pw   string
		want error
	}{
		{"printable ASCII", "Tr0ub4dor&3-~!", nil},
		{"ASCII with a control character", "tab\there", nil},
		{"not UTF-8", "\xff\xfe latin-1 \xe9", nil},
		{"empty", "", errEmpty},
		{"NUL", "a\x00b", errNUL},
		{"UTF-8", "pässwörd", errSASLprep},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkPassword([]byte(tt.pw)); !errors.Is(got, tt.want) {
				t.Errorf("checkPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

// parseVerifier checks v's iterations and salt and returns its keys.
func parseVerifier(t *testing.T, v, wantSalt string, wantIter int) (storedKey, serverKey []byte) {
	t.Helper()
	m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$`).FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("verifier %q is not SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>", v)
	}
	if m[1] != strconv.Itoa(wantIter) {
		t.Errorf("iterations %s, want %d", m[1], wantIter)
	}
	if m[2] != wantSalt {
		t.Errorf("salt %s, want %s", m[2], wantSalt)
	}
	storedKey, err1 := base64.StdEncoding.DecodeString(m[3])
	serverKey, err2 := base64.StdEncoding.DecodeString(m[4])
	if err := errors.Join(err1, err2); err != nil || len(storedKey) != 32 || len(serverKey) != 32 {
		t.Fatalf("verifier %q: keys are not 32 bytes of base64: %v", v, err)
	}
	return storedKey, serverKey
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
