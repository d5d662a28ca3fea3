package secrets

import (
	"reflect"
	"testing"
)

// TestPolicyKeyCoversSpec fails when Spec gains a field: policyOf shares a
// policy among Specs whose policyKey is equal, so a field the key does not
// hold would be taken from whichever Spec came first.
func TestPolicyKeyCoversSpec(t *testing.T) {
	// Name and Ref are the entry's; Labels and the three functions make a
	// Spec unshared.
	const outsideKey = 6
	spec, key := reflect.TypeFor[Spec](), reflect.TypeFor[policyKey]()
	if spec.NumField() != key.NumField()+outsideKey {
		t.Fatalf("Spec has %d fields, policyKey %d (+%d outside it): add the new field to policyKey and policyOf",
			spec.NumField(), key.NumField(), outsideKey)
	}
}

// TestPolicyShared: Specs alike share one policy; one with a function or
// labels, or another setting, gets its own.
func TestPolicyShared(t *testing.T) {
	s := &Store{}
	a := s.policyOf(Spec{Name: "a", Ref: "memory://a", Owner: "x", MaxStale: 5})
	b := s.policyOf(Spec{Name: "b", Ref: "memory://b", Owner: "x", MaxStale: 5})
	c := s.policyOf(Spec{Name: "c", Ref: "memory://c", Owner: "x", MaxStale: 6})
	d := s.policyOf(Spec{Name: "d", Owner: "x", MaxStale: 5, Validate: func([]byte) error { return nil }})
	if a != b || a == c || a == d || a.Name != "" || a.Ref != "" {
		t.Errorf("shared %v %v %v, name %q ref %q", a == b, a == c, a == d, a.Name, a.Ref)
	}
}

// TestLenAfterWipe: Len reads no state the wipe writes (a data race under
// -race before size was kept apart) and stays the value's length.
func TestLenAfterWipe(t *testing.T) {
	sec := &Secret{size: 32, entry: &entry{}}
	done := make(chan struct{})
	go func() { sec.sealed.Destroy(); close(done) }()
	if sec.Len() != 32 {
		t.Error("Len changed")
	}
	<-done
	if sec.Len() != 32 {
		t.Error("Len after the wipe is not the value's length")
	}
}
