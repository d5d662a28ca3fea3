// Package formenc form-encodes credentials (application/x-www-form-urlencoded,
// as url.QueryEscape does) into buffers the caller sizes and wipes, without
// making a string of them: tokens' client authentication and rotate/hydra's
// test request share it.
package formenc

// Len is the length of v form-encoded.
func Len(v []byte) int {
	n := 0
	for _, c := range v {
		if safe(c) || c == ' ' {
			n++
		} else {
			n += 3
		}
	}
	return n
}

// Append form-encodes v onto b, as url.QueryEscape does. With b of
// capacity len(b)+Len(v) it does not grow b, so no copy is left behind.
func Append(b, v []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		switch {
		case safe(c):
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func safe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
