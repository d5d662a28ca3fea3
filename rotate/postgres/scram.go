package postgres

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"strconv"
	"unicode/utf8"
)

// PostgreSQL's defaults, which psql's \password and libpq's
// PQencryptPassword use too.
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

var (
	errEmpty    = errors.New("the secret is empty")
	errNUL      = errors.New("the secret holds a NUL byte, which no PostgreSQL client can send")
	errSASLprep = errors.New("the secret is non-ASCII UTF-8, which PostgreSQL normalises (SASLprep) before hashing and this target does not: use an ASCII secret")
)

// checkPassword refuses what the verifier could not match. PostgreSQL and
// its clients hash SASLprep(password) when password is valid UTF-8 that
// SASLprep accepts, and the bytes as they are otherwise. For ASCII (and
// for bytes that are not UTF-8) both are the bytes as they are, which is
// what scramVerifier hashes; for other UTF-8 they may differ.
func checkPassword(p []byte) error {
	if len(p) == 0 {
		return errEmpty
	}
	ascii := true
	for _, c := range p {
		if c == 0 {
			return errNUL
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && utf8.Valid(p) {
		return errSASLprep
	}
	return nil
}

// newSalt reads a salt from rand.
func newSalt(rand io.Reader) ([]byte, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, errors.New("reading a salt: " + err.Error())
	}
	return salt, nil
}

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802, RFC 7677):
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// in standard base64, where SaltedPassword = PBKDF2-HMAC-SHA-256(password,
// salt, iterations), StoredKey = SHA-256(HMAC(SaltedPassword, "Client
// Key")) and ServerKey = HMAC(SaltedPassword, "Server Key"). The verifier
// lets a server check a login, not log in: the password cannot be read
// from it except by guessing. Every buffer derived from password here is
// wiped before it returns.
func scramVerifier(password, salt []byte, iterations int) string {
	var salted, clientKey, storedKey, serverKey [sha256.Size]byte
	saltedPassword(&salted, password, salt, iterations)
	m := newMAC(salted[:])
	m.sum(&clientKey, []byte("Client Key"))
	m.sum(&serverKey, []byte("Server Key"))
	m.wipe()
	storedKey = sha256.Sum256(clientKey[:])
	clear(salted[:])
	clear(clientKey[:])
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iterations) + ":" + b64(salt) + "$" + b64(storedKey[:]) + ":" + b64(serverKey[:])
}

// saltedPassword computes PBKDF2-HMAC-SHA-256 (RFC 8018) of one block,
// the length SCRAM-SHA-256 uses, into dst. It is written here rather than
// taken from crypto/pbkdf2 (or golang.org/x/crypto/pbkdf2, which calls
// it) because that takes the password as a string: a copy of it that
// could not be wiped.
func saltedPassword(dst *[sha256.Size]byte, password, salt []byte, iterations int) {
	m := newMAC(password)
	defer m.wipe()
	var u [sha256.Size]byte
	defer clear(u[:])
	m.sum(&u, salt, []byte{0, 0, 0, 1}) // U1 = PRF(P, S || INT(1))
	*dst = u
	for range iterations - 1 {
		m.sum(&u, u[:]) // Ui = PRF(P, Ui-1)
		for i := range dst {
			dst[i] ^= u[i]
		}
	}
}

// mac is HMAC-SHA-256 (RFC 2104) whose keyed pads are its own, so that
// they can be wiped; crypto/hmac keeps them where no caller reaches.
type mac struct {
	ipad, opad   [sha256.BlockSize]byte
	inner, outer hash.Hash
}

func newMAC(key []byte) *mac {
	m := &mac{inner: sha256.New(), outer: sha256.New()}
	if len(key) > sha256.BlockSize {
		k := sha256.Sum256(key)
		defer clear(k[:])
		key = k[:]
	}
	copy(m.ipad[:], key)
	copy(m.opad[:], key)
	for i := range m.ipad {
		m.ipad[i] ^= 0x36
		m.opad[i] ^= 0x5c
	}
	return m
}

// sum writes HMAC(key, msg...) into dst, which may be one of msg.
func (m *mac) sum(dst *[sha256.Size]byte, msg ...[]byte) {
	m.inner.Reset()
	m.inner.Write(m.ipad[:])
	for _, b := range msg {
		m.inner.Write(b)
	}
	var in [sha256.Size]byte
	m.inner.Sum(in[:0])
	m.outer.Reset()
	m.outer.Write(m.opad[:])
	m.outer.Write(in[:])
	m.outer.Sum(dst[:0])
	clear(in[:])
}

// wipe clears the pads and resets the digests' state. (A digest's buffer
// of the last partial block is not ours to clear.)
func (m *mac) wipe() {
	clear(m.ipad[:])
	clear(m.opad[:])
	m.inner.Reset()
	m.outer.Reset()
}
