package certs

import "crypto"

// UnwrapKey returns the parsed key inside the redacting wrapper the hooks
// serve, for tests that follow the key itself.
func UnwrapKey(k crypto.PrivateKey) crypto.PrivateKey {
	switch h := k.(type) {
	case *heapKey:
		return h.k
	case *heapDecrypter:
		return h.k
	}
	return k
}
