package secrets

import "fmt"

// Patterns select secrets by name, for Subscribe and Scope: '*' matches any
// run of characters, '/' included, and '?' any one character; every other
// character matches itself. "payments/*" matches "payments/db" and
// "payments/eu/db"; "*" matches every name.

// checkPattern reports a pattern that could never match a valid name.
func checkPattern(p string) error {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' || c == '?':
		case checkName(string(c)) != nil:
			return fmt.Errorf("pattern %q has a character that no secret name has, at byte %d", p, i)
		}
	}
	return nil
}

// match reports whether name matches pattern. It runs in time
// O(len(pattern)·len(name)) at worst, with no recursion.
func match(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0 // the last '*' seen and the name position it resumes from
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case star >= 0:
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
