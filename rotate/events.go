package rotate

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// EventKind says what happened to a rotation.
type EventKind int

// Event kinds.
const (
	EventStarted           EventKind = iota + 1 // a rotation began (Reason says why)
	EventStepDone                               // a step's side effect succeeded
	EventStepFailed                             // a step failed at the target: the rotation rolls back
	EventPromoted                               // the new credential is current in the backend
	EventWaitingForReaders                      // the old version is still read: retiring waits (up to Policy.RetireWait)
	EventTakenOver                              // this instance resumed a rotation whose owner's lease ran out
	EventCompleted                              // the old credential was retired
	EventRolledBack                             // the target was returned to the current credential
)

var eventNames = map[EventKind]string{
	EventStarted: "started", EventStepDone: "step-done", EventStepFailed: "step-failed", EventPromoted: "promoted",
	EventWaitingForReaders: "waiting-for-readers", EventTakenOver: "taken-over", EventCompleted: "completed", EventRolledBack: "rolled-back",
}

// String names the kind.
func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something that happened to a rotation. It never holds a
// credential.
type Event struct {
	Kind     EventKind
	Secret   string
	Rotation string // the rotation's id
	Step     Step   // the step done or failed; for EventRolledBack, the one that failed
	Reason   string // why the rotation started ("schedule", "max-age", "demand", "emergency")
	Err      error  // why a step failed or a rotation rolled back; its text never quotes a credential
	Duration time.Duration
	Time     time.Time
	Dropped  int // events dropped for this subscriber before this one (it was slow)
}

// String describes the event.
func (e Event) String() string {
	s := fmt.Sprintf("rotate: %s %s rotation %s", e.Secret, e.Kind, e.Rotation)
	if e.Step != "" {
		s += " step " + string(e.Step)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Format writes String for every fmt verb.
func (e Event) Format(f fmt.State, _ rune) { io.WriteString(f, e.String()) }

// Error is the error of a rotation, naming the secret, the operation and,
// when one failed, the step.
type Error struct {
	Secret   string
	Op       string
	Rotation string
	Step     Step
	Err      error
}

func (e *Error) Error() string {
	s := "rotate: " + e.Secret + ": " + e.Op
	if e.Rotation != "" {
		s += " (rotation " + e.Rotation + ")"
	}
	if e.Step != "" {
		s += ": step " + string(e.Step) + " failed"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

var errClosed = errors.New("rotate: rotator closed")

// ErrInvalid: a Rotation or Policy that cannot run.
var ErrInvalid = errors.New("rotate: invalid rotation")

func invalid(secret, msg string) error {
	return &Error{Secret: secret, Op: "add", Err: fmt.Errorf("%w: %s", ErrInvalid, msg)}
}
