package rotate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Target is the system where a credential is valid: a database, an OAuth
// server, an API that checks keys. The rotator calls it with the plaintext
// only for the duration of a call, from locked memory: a Target must not
// keep Credential.Secret (nor a slice of it) after it returns, nor quote it
// in an error.
//
// Every method must be idempotent: the rotator calls a method again after
// a crash or a lost lease, with the same credential, and expects the same
// outcome. What each method does depends on the strategy the target serves
// (see [Strategy]); a target documents which strategies it supports.
type Target interface {
	// Set makes c valid at the target. In place: c replaces the one
	// credential of c.Account, and the old one stops working. Alternating:
	// c.Account is the idle account, which gets c.Secret and may log in.
	// Overlapping: c is added beside the credentials already valid.
	Set(ctx context.Context, c Credential) error

	// Test checks that the target accepts c, as a consumer would use it
	// (log in, make an authenticated request). An error means the rotation
	// must not go on; it is rolled back.
	Test(ctx context.Context, c Credential) error

	// Retire makes every credential the target holds for this secret
	// invalid, except keep: the other account of an alternating pair stops
	// accepting its password, an overlapping target drops every key but
	// keep. In place there is nothing else to retire, and Retire returns
	// nil. Retiring what is already retired succeeds. Keeping keep (and
	// only keep) is what lets the rotator recover from any crash: after a
	// completed or rolled-back rotation the target accepts exactly the
	// credential the backend holds as current.
	Retire(ctx context.Context, keep Credential) error
}

// Credential is one credential as a target sees it.
type Credential struct {
	// Account is the account the secret belongs to: the idle or current
	// account of an alternating pair, the account of an in-place or
	// overlapping strategy when it names one ("" when it does not).
	Account string

	// Secret is the password, key or token. It is valid only during the
	// call that receives it and lives in locked memory that is wiped on
	// return: copy nothing from it that outlives the call.
	Secret []byte

	// ID identifies the credential among several that an overlapping
	// target holds at once, without revealing it: the first 16 hex digits
	// of its SHA-256. Targets that need a key ID (an API key's prefix, a
	// JWK's kid) may use it.
	ID string
}

// String describes the credential without its secret.
func (c Credential) String() string {
	return fmt.Sprintf("credential account=%q id=%s [REDACTED]", c.Account, c.ID)
}

// GoString is String, for %#v.
func (c Credential) GoString() string { return c.String() }

// Format writes String for every fmt verb.
func (c Credential) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// TargetFuncs makes a Target of three functions, for rotating anything
// with a few lines. A nil Test accepts every credential; a nil Retire
// retires nothing (right for an in-place target). Set is required.
type TargetFuncs struct {
	SetFunc    func(ctx context.Context, c Credential) error
	TestFunc   func(ctx context.Context, c Credential) error
	RetireFunc func(ctx context.Context, keep Credential) error
}

// Set calls SetFunc.
func (t TargetFuncs) Set(ctx context.Context, c Credential) error {
	if t.SetFunc == nil {
		return fmt.Errorf("rotate: TargetFuncs without SetFunc")
	}
	return t.SetFunc(ctx, c)
}

// Test calls TestFunc, if set.
func (t TargetFuncs) Test(ctx context.Context, c Credential) error {
	if t.TestFunc == nil {
		return nil
	}
	return t.TestFunc(ctx, c)
}

// Retire calls RetireFunc, if set.
func (t TargetFuncs) Retire(ctx context.Context, keep Credential) error {
	if t.RetireFunc == nil {
		return nil
	}
	return t.RetireFunc(ctx, keep)
}

// LogValue makes slog log what String shows.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON returns String as a JSON string: never the secret.
func (c Credential) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }
