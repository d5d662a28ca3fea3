// Package rotate rotates credentials actively: it creates a new one,
// deploys it to the system where it is valid (a [Target]), tests it,
// promotes it to current in the backend that every consumer reads through
// a [secrets.Store], and after an overlap retires the old one; with a way
// back at every step.
//
// # Strategies
//
// A [Target] sets, tests and retires credentials; how it takes a new one is
// its [Strategy]:
//
//   - [InPlace]: one credential per account (a PostgreSQL role's password,
//     an OAuth client's secret). Set replaces it, so a consumer that has
//     not picked up the new one fails until it does: between Set and the
//     promotion reaching it. A tokens.Client closes that window by
//     retrying once with the pending secret (tokens.PendingAnnotation).
//   - [Alternating]: two accounts; the idle one gets the new credential and
//     becomes current, the other stays valid until it is retired, so no
//     consumer ever holds a credential the target refuses. The secret's
//     value names its account ([SplitAccount]).
//   - [Overlapping]: the target accepts several credentials at once (API
//     keys, signing keys: tokens.SigningKeyTarget).
//
// Built-in targets: rotate/postgres (roles, in place or alternating),
// rotate/hydra (an OAuth 2.0 client's secret at Ory Hydra, in place),
// tokens.SigningKeyTarget (a JWTIssuer's signing keys, overlapping), and
// [TargetFuncs] for anything else in a few lines.
//
// # The state machine
//
// A rotation goes create (the pending credential is generated into locked
// memory and written to the pending secret) -> set (at the target) -> test
// (at the target, as a consumer would use it) -> promote (written to the
// current secret, which every consumer's store picks up through refresh
// or watch) -> retire (after Policy.Overlap, and once the old version is no
// longer read in this process, every credential but the current one is
// retired at the target). A failed set or test rolls back: the target is
// returned to the current credential (set again in place, every other one
// retired) and the pending one discarded. [Rotator.Rollback] undoes a
// promoted rotation while the old credential is still valid.
//
// Each step is written to the state secret (Rotation.StateRef, JSON, no
// secret material) before its side effect, with a lease, by a conditional
// write (providers.ConditionalWriter): whichever instance holds the record
// does the step, and one that dies leaves a record from which the next
// attempt, in this process after a restart or in another once the lease
// has run out, redoes that step (every step is idempotent) and goes on. A
// process killed at any step (tested with SIGKILL at every step, over a
// real PostgreSQL) leaves a rotation that completes or rolls back, a
// target that accepts the credential the backend holds as current, and no
// other credential valid. A stuck step does not block later rotations for
// longer than the lease.
//
// # Fleets
//
// Many processes share one backend and one policy: each runs a Rotator
// with the same Rotation, and the conditional write of the state record
// makes each due rotation happen once (the schedule's next due time is in
// the record too). For providers/file, that holds for the processes of one
// machine sharing a directory (flock); other backends say what they
// guarantee.
//
// # Visibility
//
// Events ([Rotator.Subscribe]) for every step and outcome; an audit log
// line per step (secret, rotation, step, outcome, never a value);
// OpenTelemetry counters (MetricStarted, MetricSteps, MetricEnded) and a
// duration histogram (MetricDuration); and in the store's inventory, as
// annotations of the rotated secret, the strategy, the policy, the step,
// the next due time, whether it is overdue, and the last rotation's
// outcome, duration and failing step ([Rotator.Status] says the same).
//
// # Limits
//
// Rollback after promotion needs the old value, which the store keeps as
// Store.Previous for the current secret's Spec.Overlap: make it at least
// Policy.Overlap; a process that restarts in the middle of such a rollback
// keeps the new credential. Retiring waits for reads of the old version in
// this process only (Metadata.PreviousReads); consumers elsewhere are
// covered by Policy.Overlap alone, which must exceed their refresh delay
// (a file watch is immediate; polling is not) and, for database logins,
// the time from reading the store to the server checking the password.
package rotate
