package secretsmanager

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/secrets"
)

// versionOf returns the VersionId the secret's stage points to.
func versionOf(t *testing.T, c *sm.Client, name, stage string) string {
	t.Helper()
	out, err := c.GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: &name, VersionStage: &stage})
	if err != nil {
		t.Fatal(err)
	}
	return *out.VersionId
}

// TestStagesAndVersions: ?stage= and ?version= select a version of the
// secret, reported with its own VersionId and CreatedDate; an unknown one
// is not found; a selected version cannot be written.
func TestStagesAndVersions(t *testing.T) {
	ctx := context.Background()
	c := startKumo(t)
	p, err := New(ctx, &Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	set(t, c, "staged", []byte("first"))
	v1 := versionOf(t, c, "staged", "AWSCURRENT")
	set(t, c, "staged", []byte("second"))
	v2 := versionOf(t, c, "staged", "AWSCURRENT")

	for _, tc := range []struct{ ref, want, version string }{
		{Ref("staged"), "second", v2},
		{Ref("staged") + "?stage=AWSCURRENT", "second", v2},
		{Ref("staged") + "?stage=AWSPREVIOUS", "first", v1},
		{Ref("staged") + "?version=" + v1, "first", v1},
		{Ref("staged") + "?version=" + v2, "second", v2},
	} {
		v, err := p.Fetch(ctx, tc.ref)
		if err != nil {
			t.Errorf("%s: %v", tc.ref, err)
			continue
		}
		if string(v.Data) != tc.want || v.Version != tc.version || v.CreatedAt.IsZero() {
			t.Errorf("%s: %q version %s created %v, want %q version %s", tc.ref, v.Data, v.Version, v.CreatedAt, tc.want, tc.version)
		}
	}
	for _, ref := range []string{Ref("staged") + "?stage=NOSUCHSTAGE", Ref("staged") + "?version=00000000-0000-0000-0000-000000000000", Ref("nosuch")} {
		if _, err := p.Fetch(ctx, ref); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", ref, err)
		}
	}
	for _, ref := range []string{Ref("staged") + "?stage=AWSPREVIOUS", Ref("staged") + "?version=" + v1, Ref("staged") + "#/k"} {
		if _, err := p.Write(ctx, ref, []byte("x")); !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("Write %s: %v, want ErrUnsupported", ref, err)
		}
	}
}

// TestJSONMembers: a fragment selects one member of a JSON secret; a
// missing member or a secret that is not JSON is refused with an error
// that names the secret and the member, never the value.
func TestJSONMembers(t *testing.T) {
	ctx := context.Background()
	c := startKumo(t)
	p, err := New(ctx, &Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const doc = `{"username":"app","password":"Zx9-MEMBER-VALUE","nested":{"a/b":"slash","t~x":"tilde"},"port":5432}`
	set(t, c, "app/db", []byte(doc))
	set(t, c, "plain", []byte("Zx9-NOT-JSON-VALUE"))
	for ref, want := range map[string]string{
		Ref("app/db") + "#/password":                  "Zx9-MEMBER-VALUE",
		Ref("app/db") + "#password":                   "Zx9-MEMBER-VALUE",
		Ref("app/db") + "#/nested/a~1b":               "slash",
		Ref("app/db") + "#/nested/t~0x":               "tilde",
		Ref("app/db") + "#/port":                      "5432",
		Ref("app/db") + "?stage=AWSCURRENT#/username": "app",
	} {
		v, err := p.Fetch(ctx, ref)
		if err != nil || string(v.Data) != want {
			t.Errorf("%s: %v, %v; want %q", ref, v, err, want)
		}
	}
	for _, ref := range []string{Ref("app/db") + "#/missing", Ref("plain") + "#/password"} {
		_, err := p.Fetch(ctx, ref)
		if err == nil {
			t.Errorf("%s: no error", ref)
			continue
		}
		for e := error(err); e != nil; e = errors.Unwrap(e) {
			if s := e.Error(); strings.Contains(s, "Zx9-") {
				t.Errorf("%s: error quotes the value: %s", ref, s)
			}
		}
		if !strings.Contains(err.Error(), `"app/db"`) && !strings.Contains(err.Error(), `"plain"`) {
			t.Errorf("%s: error does not name the secret: %v", ref, err)
		}
	}
}

// TestBinarySecrets: a SecretBinary is served byte for byte, and Write
// stores bytes that are not UTF-8 as SecretBinary (and UTF-8 as
// SecretString, as the console and CLI show it).
func TestBinarySecrets(t *testing.T) {
	ctx := context.Background()
	c := startKumo(t)
	p, err := New(ctx, &Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	bin := []byte{0x00, 0xff, 0xfe, 'k', 0x80, 0x01}
	if _, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bin"), SecretBinary: bin}); err != nil {
		t.Fatal(err)
	}
	v, err := p.Fetch(ctx, Ref("bin"))
	if err != nil || !bytes.Equal(v.Data, bin) {
		t.Fatalf("binary secret: %v, %v", v, err)
	}
	bin2 := []byte{0xc3, 0x28, 0xa0, 0xa1}
	if _, err := p.Write(ctx, Ref("bin"), bin2); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil || out.SecretString != nil || !bytes.Equal(out.SecretBinary, bin2) {
		t.Errorf("Write of bytes that are not UTF-8: string %v, binary %x, %v", out.SecretString, out.SecretBinary, err)
	}
	if _, err := p.Write(ctx, Ref("bin"), []byte("héllo")); err != nil {
		t.Fatal(err)
	}
	out, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil || aws.ToString(out.SecretString) != "héllo" || out.SecretBinary != nil {
		t.Errorf("Write of UTF-8: string %v, binary %x, %v", out.SecretString, out.SecretBinary, err)
	}
}

// TestTagsReachInventory: the secret's tags are the value's labels, and
// reach a store's inventory (owner and classification included); they are
// read once per version, not on every refresh. (kumo has no TagResource,
// so a tag changed later is not tested: a new version reads them again.)
func TestTagsReachInventory(t *testing.T) {
	ctx := context.Background()
	k := awstest.StartKumo(t)
	driver := sm.NewFromConfig(k.Config(), func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
	cfg, calls := k.CountingConfig()
	client := sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
	_, err := driver.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("tagged"), SecretString: aws.String("v1"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("payments")},
			{Key: aws.String("classification"), Value: aws.String("restricted")}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, &Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	store := awstest.Store(t, Scheme, p, secrets.Spec{Name: "db", Ref: Ref("tagged")})
	md, _ := store.Metadata("db")
	if md.Owner != "payments" || md.Classification != secrets.Restricted {
		t.Errorf("inventory: owner %q, classification %q, labels %v", md.Owner, md.Classification, md.Labels)
	}
	calls.Reset()
	if err := store.Refresh(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if n := calls.Count("DescribeSecret"); n != 0 || calls.Count("GetSecretValue") != 1 {
		t.Errorf("a refresh of the same version: %d DescribeSecret, %d GetSecretValue; want 0 and 1", n, calls.Count("GetSecretValue"))
	}
	if _, err := driver.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("tagged"), SecretString: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	calls.Reset()
	if err := store.Refresh(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if n := calls.Count("DescribeSecret"); n != 1 {
		t.Errorf("a new version: %d DescribeSecret, want 1 (its tags)", n)
	}
	if md, _ := store.Metadata("db"); md.Owner != "payments" || md.Version == "" {
		t.Errorf("after a new version: owner %q version %q", md.Owner, md.Version)
	}
}
