// Package leak decides whether a text may quote a secret. It is the one
// detector behind every message strongroom withholds: a backend's or
// validator's error in package secrets, an OAuth server's error text in
// package tokens.
//
// Text that comes from outside (a server's error_description, a provider's
// error message) is untrusted: it may echo a credential whole, cut, with its
// letters case-changed, or after a decoder replaced its invalid UTF-8. So
// [Quotes] does not look for the secret itself but for any run of it of
// [RunLength] bytes, after both sides are normalised the same way.
//
// The detector keeps no copy of a secret: the normalised forms it builds are
// wiped before it returns.
package leak

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// MaxRun is the longest run a text must share with a secret to be taken as
// quoting it: 8 bytes. Shorter secrets use a quarter of their length (see
// [RunLength]).
const MaxRun = 8

// MinRun is the shortest run that counts: a run of one or two bytes is
// shared by almost any text, and withholding every message would hide
// every cause. A secret shorter than MinRun counts as quoted only whole.
const MinRun = 3

// RunLength returns the length of the shortest shared run that counts as a
// quote of a secret of n bytes: 8 bytes, or a quarter of the secret
// (rounded up) when that is shorter, but at least MinRun.
func RunLength(n int) int {
	return max(MinRun, min(MaxRun, (n+3)/4))
}

// Quotes reports whether text shares a run of RunLength(len(s)) or more
// bytes with any of secrets, comparing ASCII letters without regard to
// case and with every byte that is not valid UTF-8 (in the secret or the
// text) read as U+FFFD, as a decoder that replaced it would have left it.
// The PEM boundary lines of a secret ("-----BEGIN PRIVATE KEY-----") are
// boilerplate, not part of any run. Empty secrets are ignored.
func Quotes(text string, secrets ...[]byte) bool {
	if text == "" {
		return false
	}
	var t []byte
	defer func() { clear(t) }()
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		if t == nil {
			t = normalize([]byte(text))
		}
		if shares(t, s) {
			return true
		}
	}
	return false
}

// shares reports whether the normalised text t holds a run of s.
func shares(t, s []byte) bool {
	n := normalize(s)
	defer clear(n)
	blankArmor(n)
	k := min(RunLength(len(s)), len(n))
	if len(t) < k {
		return false
	}
	if len(n) <= 64 || len(t) <= 256 {
		for i := 0; i+k <= len(n); i++ {
			if bytes.Contains(t, n[i:i+k]) {
				return true
			}
		}
		return false
	}
	// Long secret and long text: hash every window of the secret once and
	// roll a hash over the text.
	type win struct {
		h   uint64
		pos int
	}
	ws := make([]win, 0, len(n)-k+1)
	defer clear(ws)
	pow := uint64(1)
	for range k - 1 {
		pow *= base
	}
	h := hash(n[:k])
	for i := 0; ; i++ {
		ws = append(ws, win{h, i})
		if i+k >= len(n) {
			break
		}
		h = (h-uint64(n[i])*pow)*base + uint64(n[i+k])
	}
	slices.SortFunc(ws, func(a, b win) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	h = hash(t[:k])
	for i := 0; ; i++ {
		j, _ := slices.BinarySearchFunc(ws, h, func(w win, h uint64) int {
			switch {
			case w.h < h:
				return -1
			case w.h > h:
				return 1
			}
			return 0
		})
		for ; j < len(ws) && ws[j].h == h; j++ {
			if bytes.Equal(t[i:i+k], n[ws[j].pos:ws[j].pos+k]) {
				return true
			}
		}
		if i+k >= len(t) {
			return false
		}
		h = (h-uint64(t[i])*pow)*base + uint64(t[i+k])
	}
}

// armorByte marks bytes of a secret that take part in no run: it never
// occurs in a normalised text, which is valid UTF-8.
const armorByte = 0xff

// blankArmor marks the PEM boundary lines of a normalised secret
// ("-----begin private key-----", "-----end certificate-----"): they are
// public boilerplate that error messages about PEM data name, and a run
// must come from the secret's own content.
func blankArmor(n []byte) {
	for i := 0; i < len(n); {
		j := bytes.Index(n[i:], []byte("-----begin "))
		k := bytes.Index(n[i:], []byte("-----end "))
		switch {
		case j < 0 && k < 0:
			return
		case j < 0 || (k >= 0 && k < j):
			j = k
		}
		start := i + j
		end := bytes.Index(n[start+5:], []byte("-----"))
		if end < 0 {
			return
		}
		end += start + 10
		for x := start; x < end; x++ {
			n[x] = armorByte
		}
		i = end
	}
}

const base = 1099511628211 // a large odd multiplier (FNV's prime)

func hash(b []byte) uint64 {
	var h uint64
	for _, c := range b {
		h = h*base + uint64(c)
	}
	return h
}

// normalize returns a new slice with ASCII upper case folded to lower case
// and each byte that is not part of valid UTF-8 replaced by U+FFFD. The
// caller wipes it.
func normalize(b []byte) []byte {
	// Room for the worst case (every byte replaced by three), so that
	// append never moves a partial copy and leaves it unwiped.
	out := make([]byte, 0, 3*len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
