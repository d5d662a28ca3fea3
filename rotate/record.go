package rotate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Step is where a rotation stands. The record of a rotation names the step
// whose side effect is under way or next: a step is written to the backend
// before its side effect, so that whoever resumes the rotation (this
// process after a restart, or another one) redoes that side effect, which
// is idempotent, and goes on.
type Step string

// The steps, in order; StepRollback may follow any of StepCreate to
// StepRetire.
const (
	StepIdle     Step = "idle"     // no rotation under way
	StepCreate   Step = "create"   // generating the pending credential into the pending secret
	StepSet      Step = "set"      // making the pending credential valid at the target
	StepTest     Step = "test"     // testing it at the target
	StepPromote  Step = "promote"  // writing it to the current secret, for every consumer
	StepRetire   Step = "retire"   // after the overlap: retiring every other credential at the target
	StepRollback Step = "rollback" // returning the target to the current credential
)

var stepOrder = map[Step]int{StepIdle: 0, StepCreate: 1, StepSet: 2, StepTest: 3, StepPromote: 4, StepRetire: 5, StepRollback: 6}

// Outcome is how a rotation ended.
type Outcome string

// Outcomes.
const (
	OutcomeRotated    Outcome = "rotated"     // promoted and the old credential retired
	OutcomeRolledBack Outcome = "rolled-back" // the target was returned to the current credential
)

// record is the state of a rotation as the state secret holds it, as JSON.
// It holds no secret material: names, steps, times, versions, accounts and
// error text that was checked not to quote a credential.
type record struct {
	V        int    `json:"v"`
	Seq      uint64 `json:"seq"` // incremented by every write: no two writes give the same bytes (a backend whose versions are content hashes sees every change)
	Step     Step   `json:"step"`
	ID       string `json:"id,omitempty"`       // of the rotation under way
	Strategy string `json:"strategy,omitempty"` // as when it started
	Account  string `json:"account,omitempty"`  // the pending credential's account
	From     string `json:"from,omitempty"`     // the account of the credential being replaced
	Reason   string `json:"reason,omitempty"`   // what started it: "schedule", "max-age", "demand", "emergency"

	Emergency bool `json:"emergency,omitempty"` // retire at once, without overlap

	Owner      string    `json:"owner,omitempty"` // the instance doing it
	LeaseUntil time.Time `json:"lease_until,omitzero"`

	Started  time.Time `json:"started,omitzero"`
	Promoted time.Time `json:"promoted,omitzero"`

	// PreviousVersion is the current secret's version when the pending one
	// was promoted, PendingVersion the pending secret's version.
	PreviousVersion string `json:"previous_version,omitempty"`
	PendingVersion  string `json:"pending_version,omitempty"`

	FailedStep Step   `json:"failed_step,omitempty"` // of a rollback
	Failure    string `json:"failure,omitempty"`     // why, never a credential

	Last *lastRotation `json:"last,omitempty"`
	Next time.Time     `json:"next,omitzero"` // when the next scheduled rotation is due
}

// lastRotation is the outcome of the last rotation that ended.
type lastRotation struct {
	ID         string    `json:"id"`
	Outcome    Outcome   `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	FailedStep Step      `json:"failed_step,omitempty"`
	Failure    string    `json:"failure,omitempty"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended"`
}

const (
	recordVersion = 1
	maxRecord     = 16 << 10 // bytes
	maxText       = 512      // bytes of one text field
)

// parseRecord reads a record strictly: known fields only, a known step,
// bounded text. Its errors quote nothing of b.
func parseRecord(b []byte) (record, error) {
	var r record
	if len(b) > maxRecord {
		return r, fmt.Errorf("rotate: the state record is %d bytes, over %d", len(b), maxRecord)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return record{}, errors.New("rotate: the state record is not the JSON object this version writes")
	}
	if d.More() {
		return record{}, errors.New("rotate: the state record has data after its JSON object")
	}
	if err := r.check(); err != nil {
		return record{}, err
	}
	return r, nil
}

// check validates a record read from the backend.
func (r *record) check() error {
	if r.V != recordVersion {
		return fmt.Errorf("rotate: the state record has format version %d, want %d", r.V, recordVersion)
	}
	if _, ok := stepOrder[r.Step]; !ok {
		return errors.New("rotate: the state record names an unknown step")
	}
	if r.FailedStep != "" {
		if _, ok := stepOrder[r.FailedStep]; !ok {
			return errors.New("rotate: the state record names an unknown failed step")
		}
	}
	for _, t := range []string{r.ID, r.Strategy, r.Account, r.From, r.Reason, r.Owner, r.PreviousVersion, r.PendingVersion, r.Failure} {
		if len(t) > maxText {
			return fmt.Errorf("rotate: the state record has a text field over %d bytes", maxText)
		}
	}
	if r.Step != StepIdle && r.ID == "" {
		return errors.New("rotate: the state record has a rotation under way without an id")
	}
	if l := r.Last; l != nil {
		if l.Outcome != OutcomeRotated && l.Outcome != OutcomeRolledBack {
			return errors.New("rotate: the state record's last rotation has an unknown outcome")
		}
		if len(l.ID) > maxText || len(l.Failure) > maxText || len(l.Reason) > maxText {
			return fmt.Errorf("rotate: the state record has a text field over %d bytes", maxText)
		}
		if l.FailedStep != "" {
			if _, ok := stepOrder[l.FailedStep]; !ok {
				return errors.New("rotate: the state record's last rotation names an unknown failed step")
			}
		}
	}
	return nil
}

// encode returns the record as JSON.
func (r record) encode() []byte {
	r.V = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		panic("rotate: encoding a record: " + err.Error()) // only strings, times and bools
	}
	return b
}

// active reports whether a rotation is under way.
func (r *record) active() bool { return r.Step != StepIdle }

// leaseHeld reports whether r's owner still holds its lease at now.
func (r *record) leaseHeld(now time.Time) bool { return r.Owner != "" && now.Before(r.LeaseUntil) }
