package hydra_test

import (
	"context"
	"log"

	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/hydra"
)

// Example sets a new client secret at Hydra and tests it at the token
// endpoint, as a rotation does; Retire has nothing to do in place. It
// needs a Hydra, so it is compiled, not run.
func Example() {
	target, err := hydra.New("https://hydra-admin.internal:4445", "batch-job",
		&hydra.Options{TokenURL: "https://auth.example/oauth2/token", Scopes: []string{"reports:read"}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// The rotator hands the new secret from locked memory; here a literal.
	cred := rotate.Credential{Account: "batch-job", Secret: []byte("a-new-secret-from-the-rotator")}
	if err := target.Set(ctx, cred); err != nil {
		log.Fatal(err)
	}
	if err := target.Test(ctx, cred); err != nil {
		log.Fatal(err) // the rotator would set the old secret back
	}
	_ = target.Retire(ctx, cred) // nil: nothing to retire in place
}
