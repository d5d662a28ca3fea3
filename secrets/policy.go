package secrets

import (
	"maps"
	"time"
)

// policy is a Spec without its Name and Ref: how a secret is refreshed,
// checked and described. Entries declared alike share one (Store.policyOf),
// so that a million secrets do not each hold a copy.
type policy struct{ Spec }

// policyKey is what makes two policies alike: every field, when the Spec
// has no Labels and no function (which Go cannot compare).
type policyKey struct {
	kind           Kind
	owner          string
	classification Classification
	refresh        RefreshPolicy
	maxStale       time.Duration
	allowEmpty     bool
	overlap        time.Duration
}

// policyOf returns the policy of spec (normalised): a shared one when the
// Spec can be compared, else its own.
func (s *Store) policyOf(spec Spec) *policy {
	spec.Name, spec.Ref = "", ""
	if len(spec.Labels) > 0 || spec.Validate != nil || spec.Expiry != nil || spec.Describe != nil {
		spec.Labels = maps.Clone(spec.Labels)
		return &policy{spec}
	}
	k := policyKey{spec.Kind, spec.Owner, spec.Classification, spec.Refresh, spec.MaxStale, spec.AllowEmpty, spec.Overlap}
	s.polMu.Lock()
	defer s.polMu.Unlock()
	if p := s.policies[k]; p != nil {
		return p
	}
	if s.policies == nil {
		s.policies = map[policyKey]*policy{}
	}
	p := &policy{spec}
	s.policies[k] = p
	return p
}
