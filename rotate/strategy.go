package rotate

import "fmt"

// Strategy is how a target takes a new credential.
type Strategy struct {
	kind     strategyKind
	accounts [2]string
}

type strategyKind uint8

const (
	kindNone strategyKind = iota
	kindInPlace
	kindAlternating
	kindOverlapping
)

// InPlace is for a target that holds one credential per account (a
// PostgreSQL role's password, an OAuth client's secret): Set replaces it,
// and a consumer that has not picked up the new one fails until it does.
// account may be "" when the target needs none. Rolling back sets the old
// credential again.
func InPlace(account string) Strategy {
	return Strategy{kind: kindInPlace, accounts: [2]string{account}}
}

// Alternating is for a target with two accounts that act alike: the idle
// one gets the new credential, is tested, and becomes current; the other
// keeps working until it is retired after the overlap, so no consumer ever
// holds a credential the target has stopped accepting. The secret's value
// names its account (see [SplitAccount]).
func Alternating(a, b string) Strategy {
	return Strategy{kind: kindAlternating, accounts: [2]string{a, b}}
}

// Overlapping is for a target that accepts several credentials at once
// (API keys, signing keys): Set adds the new one, and Retire drops the old
// one after the overlap. account may be "".
func Overlapping(account string) Strategy {
	return Strategy{kind: kindOverlapping, accounts: [2]string{account}}
}

// String names the strategy and its accounts.
func (s Strategy) String() string {
	switch s.kind {
	case kindInPlace:
		return fmt.Sprintf("in place (%q)", s.accounts[0])
	case kindAlternating:
		return fmt.Sprintf("alternating (%q, %q)", s.accounts[0], s.accounts[1])
	case kindOverlapping:
		return fmt.Sprintf("overlapping (%q)", s.accounts[0])
	}
	return "no strategy"
}

// name is the strategy's name as the rotation record stores it.
func (s Strategy) name() string {
	switch s.kind {
	case kindInPlace:
		return "in-place"
	case kindAlternating:
		return "alternating"
	case kindOverlapping:
		return "overlapping"
	}
	return ""
}

func (s Strategy) check() error {
	switch s.kind {
	case kindNone:
		return fmt.Errorf("no strategy: use InPlace, Alternating or Overlapping")
	case kindAlternating:
		for _, a := range s.accounts {
			if err := checkAccount([]byte(a)); err != nil {
				return err
			}
		}
		if s.accounts[0] == s.accounts[1] {
			return fmt.Errorf("an alternating pair needs two different accounts")
		}
	}
	return nil
}
