//go:build unix && !linux

package guard

// dontDump is a no-op where there is no MADV_DONTDUMP; memguard disables
// core dumps for the process anyway.
func dontDump([]byte) {}
