package hydra_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/hydra"
)

// TestRedactionEveryType renders a sample of every exported type, each
// holding the marker wherever it can (a URL's query or user information,
// a secret quoted by a server), every way a program could print or log it.
func TestRedactionEveryType(t *testing.T) {
	const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"
	target, err := hydra.New("https://h.test/?key="+marker, "c",
		&hydra.Options{TokenURL: "https://h.test/oauth2/token?sig=" + marker})
	if err != nil {
		t.Fatal(err)
	}
	opts := hydra.Options{TokenURL: "https://h.test/oauth2/token?sig=" + marker, Scopes: []string{"read"},
		AuthMethod: hydra.ClientSecretPost, HTTPClient: &http.Client{}}
	_, newErr := hydra.New("https://u:"+marker+"@h.test/", "c", nil)
	setErr := target.Set(context.Background(), rotate.Credential{Secret: []byte("not UTF-8 \xff " + marker)})
	redacttest.Check(t, ".", map[string][]any{
		"Options": {opts, &opts, struct{ O hydra.Options }{opts}},
		"Target":  {target, *target, struct{ T *hydra.Target }{target}, newErr, setErr},
	}, redacttest.Forms([]byte(marker)))
}
