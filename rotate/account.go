package rotate

import (
	"bytes"
	"errors"
	"fmt"
)

// The value of a secret rotated with an alternating pair names the account
// it belongs to, since consumers must log in as that account:
//
//	{"account":"app_b","secret":"..."}
//
// exactly so: no spaces, these two members in this order, an account of
// 1 to 63 letters, digits and "_.@-", and a secret of 1 or more printable
// ASCII characters other than '"' and '\' (the store's generators make
// such secrets). It is JSON, so that other tools can read it, but a strict
// form, so that splitting it copies nothing: [SplitAccount] returns the
// secret as a slice of the value.

const (
	accountPrefix = `{"account":"`
	accountMiddle = `","secret":"`
	accountSuffix = `"}`
	maxAccount    = 63
)

// SplitAccount returns the account and the secret of an alternating
// pair's value v. The secret is a slice of v, not a copy: call it inside
// [secrets.Secret.Use] and let it go with v. The error describes what is
// wrong with v without quoting any of it.
func SplitAccount(v []byte) (account string, secret []byte, err error) {
	if !bytes.HasPrefix(v, []byte(accountPrefix)) {
		return "", nil, errors.New(`rotate: an alternating pair's value must start {"account":"`)
	}
	rest := v[len(accountPrefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", nil, errors.New("rotate: an alternating pair's value has an unterminated account")
	}
	if err := checkAccount(rest[:end]); err != nil {
		return "", nil, err
	}
	account = string(rest[:end])
	rest = rest[end:]
	if !bytes.HasPrefix(rest, []byte(accountMiddle)) {
		return "", nil, errors.New(`rotate: an alternating pair's value must have "secret" after "account"`)
	}
	rest = rest[len(accountMiddle):]
	if !bytes.HasSuffix(rest, []byte(accountSuffix)) {
		return "", nil, errors.New(`rotate: an alternating pair's value must end "}`)
	}
	secret = rest[:len(rest)-len(accountSuffix)]
	if len(secret) == 0 {
		return "", nil, errors.New("rotate: an alternating pair's value has an empty secret")
	}
	for i, c := range secret {
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "", nil, fmt.Errorf("rotate: an alternating pair's secret has a character not allowed at byte %d of it (printable ASCII other than '\"' and '\\' only)", i)
		}
	}
	return account, secret, nil
}

// checkAccount accepts an account name of 1 to 63 letters, digits and
// "_.@-"; its error quotes nothing.
func checkAccount(a []byte) error {
	if len(a) == 0 || len(a) > maxAccount {
		return fmt.Errorf("rotate: an account name has %d bytes, want 1 to %d", len(a), maxAccount)
	}
	for i, c := range a {
		if !accountByte(c) {
			return fmt.Errorf("rotate: an account name has a character not allowed at byte %d (letters, digits and _.@- only)", i)
		}
	}
	return nil
}

func accountByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '@' || c == '-'
}

// accountSize is the length of the value holding account and a secret of n
// bytes.
func accountSize(account string, n int) int {
	return len(accountPrefix) + len(account) + len(accountMiddle) + n + len(accountSuffix)
}

// putAccount writes the value for account into dst, of accountSize bytes,
// and returns the part of dst where the secret goes.
func putAccount(dst []byte, account string) (secret []byte) {
	n := copy(dst, accountPrefix)
	n += copy(dst[n:], account)
	n += copy(dst[n:], accountMiddle)
	secret = dst[n : len(dst)-len(accountSuffix)]
	copy(dst[len(dst)-len(accountSuffix):], accountSuffix)
	return secret
}
