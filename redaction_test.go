package strongroom_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/internal/backoff"
	"github.com/strongroom/strongroom/internal/epoch"
	"github.com/strongroom/strongroom/internal/fanout"
	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/internal/jsonptr"
	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/internal/refcount"
	"github.com/strongroom/strongroom/internal/tally"
	"github.com/strongroom/strongroom/internal/vhash"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/providers/providertest"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// marker stands for secret material: a value, a credential in a
// reference, text a backend or validator quoted.
const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"

// elsewhere names the packages whose exported types another test walks,
// because its samples need the package's unexported constructors, and the
// packages that hold no exported type a program could print.
var elsewhere = map[string]string{
	".":                    "package documentation only",
	"tokens":               "tokens.TestRedactionEveryType (tokens/redact_test.go) walks every exported type with samples built from unexported state",
	"internal/busy":        "Holder is an interface over a clock; it holds nothing",
	"internal/leak":        "no exported types",
	"internal/formenc":     "no exported types",
	"internal/unpriv":      "no exported types",
	"internal/stripe":      "no exported types",
	"internal/redact":      "no exported types",
	"internal/memscan":     "test tool: a Marker exists to be searched for, and is only linked into tests",
	"internal/testservers": "test tool: starts Hydra and Pebble for tests, only linked into tests",
	"internal/redacttest":  "test tool: this test's renderer, only linked into tests",
	"rotate/hydra":         "rotate/hydra/redact_test.go walks every exported type with a Target that has failed",
	"rotate/postgres":      "rotate/postgres.TestRedactionEveryType (rotate/postgres/redact_test.go) walks every exported type with a Target that has failed",
}

// TestRedactionEveryPackage walks every package of the module (tokens in
// its own test, see elsewhere) and renders a sample of every exported type,
// holding the marker (or a private key) wherever the type can hold secret
// material, under every fmt verb, slog (text and JSON), JSON and text
// marshalling, and an error's whole chain. A package or type added later
// fails this test until it is given samples.
func TestRedactionEveryPackage(t *testing.T) {
	ctx := context.Background()
	m := []byte(marker)
	forms := redacttest.Forms(m)

	// A private key whose every encoding is searched for.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	forms = append(forms, key.D.String(), key.D.Text(16))
	forms = append(forms, redacttest.Forms(key.D.Bytes())...)
	forms = append(forms, redacttest.Forms(keyDER[len(keyDER)-48:])...)
	certPEM := selfSigned(t, key)

	// Backends holding the marker.
	mem := memory.New(nil)
	mem.Set("db", m, &memory.SetOptions{TTL: time.Hour, Labels: map[string]string{"owner": "payments"}})
	mem.Set("bad", []byte("bad:"+marker), nil)
	mem.Set("web-cert", certPEM, nil)
	mem.Set("web-key", keyPEM, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("TOKEN="+marker+"\n"+marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := file.New(&file.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STRONGROOM_REDACTION_MARKER", marker)
	envs := env.New(nil)

	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem, "file": files, "env": envs}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	quoting := func(b []byte) error {
		if bytes.HasPrefix(b, []byte("bad:")) {
			return fmt.Errorf("refusing %q", b)
		}
		return nil
	}
	specs := []secrets.Spec{
		{Name: "db", Ref: memory.Ref("db"), Owner: "payments", Labels: map[string]string{"team": "payments"}},
		{Name: "bad", Ref: memory.Ref("bad"), Validate: quoting},
		{Name: "dotenv", Ref: "file://app.env#TOKEN"},
		{Name: "broken", Ref: "file://app.env#MISSING"},
		{Name: "env", Ref: env.Ref("STRONGROOM_REDACTION_MARKER")},
		{Name: "query", Ref: "memory://db?token=" + marker},
		certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: memory.Ref("web-cert")}),
		certs.KeySpec(secrets.Spec{Name: "web-key", Ref: memory.Ref("web-key")}),
	}
	for _, s := range specs {
		if err := store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	readyErr := store.Ready(ctx)
	sec, err := store.Get(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	_, badErr := store.Get(ctx, "bad")
	var withheld *secrets.WithheldError
	var storeErr *secrets.Error
	if !errors.As(badErr, &withheld) || !errors.As(badErr, &storeErr) {
		t.Fatalf("a validator quoting the value: %v, want a *secrets.Error with a *secrets.WithheldError", badErr)
	}
	_, dotenvErr := store.Get(ctx, "broken")
	healthErr := store.Health()
	var health *secrets.HealthError
	if !errors.As(healthErr, &health) {
		t.Fatalf("Health: %v, want a *secrets.HealthError", healthErr)
	}
	view, err := store.Scope("billing", "db")
	if err != nil {
		t.Fatal(err)
	}
	md, err := store.Metadata("db")
	if err != nil {
		t.Fatal(err)
	}
	value, err := mem.Fetch(ctx, memory.Ref("db"))
	if err != nil {
		t.Fatal(err)
	}
	clock := memory.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

	// certs, over the same store.
	src, err := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	ca, err := certs.NewDevCA(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	acmeOpts := certs.ACMEOptions{DirectoryURL: "https://acme.test/dir?key=" + marker, AccountKey: key, Solvers: []certs.Solver{&certs.HTTP01Solver{}}, Prompt: certs.AcceptTOS}
	acme, err := certs.NewACME(&acmeOpts)
	if err != nil {
		t.Fatal(err)
	}
	mem.Set("bundle", certPEM, nil)
	store.Add(certs.BundleSpec(secrets.Spec{Name: "bundle", Ref: memory.Ref("bundle")}))
	bundle, err := certs.NewTrustBundle(ctx, store, "bundle", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bundle.Close() })
	mem.Set("web-key", []byte("-----BEGIN PRIVATE KEY-----\n"+marker+"\n-----END PRIVATE KEY-----\n"), nil)
	certErr := store.Refresh(ctx, "web-key")
	if certErr == nil {
		t.Fatal("a malformed key was accepted")
	}
	mem.Set("bad-cert", []byte("-----BEGIN CERTIFICATE-----\n"+marker+"\n-----END CERTIFICATE-----\n"), nil)
	store.Add(certs.CertificateSpec(secrets.Spec{Name: "bad-cert", Ref: memory.Ref("bad-cert")}))
	_, newErr := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{{Name: "broken", Cert: "bad-cert", Key: "web-key"}}, LoadTimeout: time.Second})
	var certsErr *certs.Error
	if !errors.As(newErr, &certsErr) {
		t.Fatalf("a source over a malformed certificate: %v, want a *certs.Error", newErr)
	}

	// internal
	g, err := guard.New(&guard.Options{AllowUnlocked: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	sealed, err := g.Seal(append([]byte(nil), m...))
	if err != nil {
		t.Fatal(err)
	}
	hasher := vhash.New()
	hasher.Version(m)
	hub := &fanout.Hub[secrets.Event]{}
	_, _, jsonErr := jsonptr.Select([]byte(`{"a": "`+marker+`" "b"}`), "/a")
	if jsonErr == nil {
		t.Fatal("a malformed JSON document was accepted")
	}
	rotator, err := rotate.New(store, &rotate.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rotator.Close() })

	samples := map[string]map[string][]any{
		"secrets": {
			"Classification": {secrets.Confidential},
			"Clock":          {secrets.Clock(clock), secrets.Clock(secrets.WallClock{})},
			"Error":          {storeErr, *storeErr, badErr, dotenvErr, readyErr},
			"Event":          {secrets.Event{Kind: secrets.EventRejected, Secret: "bad", Err: badErr}},
			"EventKind":      {secrets.EventRotated},
			"Generator":      {secrets.Generator(&secrets.RandomPassword{})},
			"HealthError":    {health, *health, healthErr},
			"Kind":           {secrets.KindPassword},
			"Metadata":       {md, store.Inventory()},
			"Options":        {secrets.Options{Providers: map[string]providers.Provider{"memory": mem}}},
			"Problem":        {health.Problems},
			"RandomKey":      {secrets.RandomKey{Bytes: 32}},
			"RandomPassword": {secrets.RandomPassword{Length: 24}},
			"RefreshPolicy":  {secrets.RefreshPolicy{Interval: time.Minute}},
			"Secret":         {sec, []*secrets.Secret{sec}, struct{ S *secrets.Secret }{sec}},
			"Spec":           {specs, specs[5], &specs[5]},
			"State":          {secrets.StateStale},
			"Store":          {store, struct{ S *secrets.Store }{store}},
			"ValueError":     {secrets.InvalidValue("too short")},
			"View":           {view},
			"WallClock":      {secrets.WallClock{}},
			"WithheldError":  {withheld, *withheld},
		},
		"providers": {
			"Value":             {value, *value, []*providers.Value{value}, struct{ V providers.Value }{*value}},
			"Provider":          {providers.Provider(mem), providers.Provider(files), providers.Provider(envs)},
			"Watcher":           {providers.Watcher(mem), providers.Watcher(files)},
			"Writer":            {providers.Writer(mem), providers.Writer(files)},
			"Revoker":           {providers.Revoker(mem)},
			"Deleter":           {providers.Deleter(mem), providers.Deleter(files)},
			"ConditionalWriter": {providers.ConditionalWriter(mem), providers.ConditionalWriter(files)},
		},
		"providers/file": {
			"Options":  {file.Options{Root: dir}},
			"Provider": {files},
		},
		"providers/env": {
			"Options":  {env.Options{Unset: true}},
			"Provider": {envs},
		},
		"providers/memory": {
			"Clock":      {clock},
			"Options":    {memory.Options{Clock: clock}},
			"Provider":   {mem, []*memory.Provider{mem}},
			"SetOptions": {memory.SetOptions{TTL: time.Hour, Labels: map[string]string{"owner": "payments"}}},
		},
		"providers/providertest": {
			"Capabilities": {providertest.Capabilities{Mutable: true}},
			"Harness":      {providertest.Harness{Caps: providertest.Capabilities{Writable: true}, InvalidRefs: []string{"memory://"}}},
		},
		"certs": {
			"ACME":                {acme},
			"ACMEOptions":         {acmeOpts, &acmeOpts},
			"ClientConfigOptions": {certs.ClientConfigOptions{RootCAs: bundle, ServerName: "localhost"}},
			"DevCA":               {ca, certs.Issuer(ca)},
			"DevCAOptions":        {certs.DevCAOptions{KeySecret: "ca-key"}},
			"Error":               {certsErr, *certsErr, newErr, certErr},
			"Event":               {certs.Event{Kind: certs.EventRejected, Certificate: "web", Secret: "web-key", Err: certErr}},
			"EventKind":           {certs.EventRenewed},
			"HTTP01Solver":        {&certs.HTTP01Solver{}},
			"Info":                {src.Certificates()},
			"Issuer":              {certs.Issuer(acme)},
			"Options":             {certs.Options{Certificates: []certs.Pair{{Cert: "web-cert"}}}},
			"Pair":                {certs.Pair{Name: "web", Cert: "web-cert", Key: "web-key", Renewal: &certs.Renewal{Issuer: ca}}},
			"Renewal":             {certs.Renewal{Issuer: acme, DNSNames: []string{"localhost"}}},
			"ServerConfigOptions": {certs.ServerConfigOptions{ClientCAs: bundle}},
			"Solver":              {certs.Solver(&certs.HTTP01Solver{})},
			"Source":              {src, struct{ S *certs.Source }{src}},
			"Threshold":           {certs.DefaultThresholds()},
			"TrustBundle":         {bundle},
			"TrustOptions":        {certs.TrustOptions{Name: "roots"}},
			"Validation":          {certs.Validation{Trust: bundle, DNSNames: []string{"localhost"}}},
		},
		"rotate": {
			"Credential":  {rotate.Credential{Account: "app", Secret: m, ID: "0123"}, &rotate.Credential{Secret: m}, []rotate.Credential{{Secret: m}}},
			"Error":       {&rotate.Error{Secret: "db", Op: "rotate", Step: rotate.StepTest, Err: errors.New("login refused")}},
			"Event":       {rotate.Event{Kind: rotate.EventRolledBack, Secret: "db", Rotation: "r1", Err: errors.New("login refused")}},
			"EventKind":   {rotate.EventCompleted},
			"Options":     {rotate.Options{Clock: clock, Instance: "i-1"}},
			"Outcome":     {rotate.OutcomeRotated},
			"Policy":      {rotate.Policy{Every: time.Hour, Generator: &secrets.RandomPassword{}}},
			"Rotation":    {rotate.Rotation{Secret: "db", PendingRef: "memory://db?token=" + marker, StateRef: "memory://s", Target: rotate.TargetFuncs{}, Strategy: rotate.InPlace("app")}},
			"Rotator":     {rotator},
			"Status":      {rotate.Status{Secret: "db", LastFailure: "login refused"}},
			"Step":        {rotate.StepPromote},
			"Strategy":    {rotate.Alternating("a", "b")},
			"Target":      {rotate.Target(rotate.TargetFuncs{})},
			"TargetFuncs": {rotate.TargetFuncs{}},
		},
		"internal/backoff":  {"Rand": {backoff.New(strings.NewReader("jitter randomness, not secret material"))}},
		"internal/fanout":   {"Hub": {hub}},
		"internal/guard":    {"Guard": {g}, "Options": {guard.Options{}}, "Sealed": {sealed, *sealed}, "LockError": {&guard.LockError{}}},
		"internal/jsonptr":  {"Code": {jsonptr.Syntax}, "Error": {jsonErr}},
		"internal/refcount": {"Count": {&refcount.Count{}}},
		"internal/tally":    {"Tally": {tally.New(), struct{ T *tally.Tally }{tally.New()}}},
		"internal/epoch":    {"Domain": {epoch.New(), struct{ D *epoch.Domain }{epoch.New()}}, "Token": {epoch.New().Enter()}},
		"internal/vhash":    {"Hasher": {hasher, *hasher}},
	}

	dirs, err := redacttest.ReadDir(".", "examples", "bench", "tools")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := elsewhere[d]; ok {
			continue
		}
		s, ok := samples[d]
		if !ok {
			t.Errorf("package %s has no samples in TestRedactionEveryPackage (nor an entry in elsewhere)", d)
			continue
		}
		t.Run(d, func(t *testing.T) { redacttest.Check(t, d, s, forms) })
	}
}

// selfSigned returns a PEM certificate for key.
func selfSigned(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
