package ssm

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
)

// Every emulator of a process shares one store (kumo registers its
// services once, globally), so each test names its parameters under its
// own path.

// current returns what the SDK says of the current version of name.
func current(t testing.TB, c *ssm.Client, name string) *types.Parameter {
	t.Helper()
	out, err := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: &name, WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Parameter
}

// tag sets a tag of parameter name.
func tag(t testing.TB, c *ssm.Client, name, key, value string) {
	t.Helper()
	_, err := c.AddTagsToResource(context.Background(), &ssm.AddTagsToResourceInput{
		ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: &name,
		Tags: []types.Tag{{Key: &key, Value: &value}}})
	if err != nil {
		t.Fatal(err)
	}
}

// newProvider returns a provider of client c, closed when t ends.
func newProvider(t testing.TB, c *ssm.Client, opts *Options) *Provider {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	opts.Client = c
	p, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestFetchTypes: String, SecureString (decrypted) and StringList values,
// at the top level and in hierarchies, and one member of a JSON value,
// with the version number and time of the SDK's own answer.
func TestFetchTypes(t *testing.T) {
	c := startKumo(t)
	p := newProvider(t, c, nil)
	for _, tc := range []struct {
		name, value string
		typ         types.ParameterType
		ref, want   string
	}{
		{"fetch-top", "plain text", types.ParameterTypeString, "", "plain text"},
		{"/fetch/app/db/password", "s3cr3t", types.ParameterTypeSecureString, "", "s3cr3t"},
		{"/fetch/app/hosts", "a.example,b.example", types.ParameterTypeStringList, "", "a.example,b.example"},
		{"/fetch/b/c/d/e/f/g/h/i/j/k/l/m/n/o", "deep", types.ParameterTypeString, "", "deep"},
		{"/fetch/app/json", `{"db":{"user":"u","password":"pw"}}`, types.ParameterTypeSecureString, "#/db/password", "pw"},
		{"/fetch/app/json2", `{"user":"u","password":"pw2"}`, types.ParameterTypeSecureString, "#password", "pw2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put(t, c, tc.name, "first", tc.typ)
			put(t, c, tc.name, tc.value, tc.typ)
			par := current(t, c, tc.name)
			v, err := p.Fetch(t.Context(), Ref(tc.name)+tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Wipe()
			if string(v.Data) != tc.want {
				t.Errorf("Data = %q, want %q", v.Data, tc.want)
			}
			if want := versionOf(par.Version, par.LastModifiedDate); v.Version != want {
				t.Errorf("Version = %q, want %q", v.Version, want)
			}
			if !v.CreatedAt.Equal(*par.LastModifiedDate) {
				t.Errorf("CreatedAt = %v, want %v", v.CreatedAt, *par.LastModifiedDate)
			}
		})
	}
	if _, err := p.Fetch(t.Context(), Ref("/fetch/app/json#/db/missing")); err == nil {
		t.Error("Fetch of a missing member succeeded")
	} else {
		t.Logf("Fetch of a missing member: %v", err)
	}
	_, err := p.Fetch(t.Context(), Ref("/fetch/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p"))
	if !errors.Is(err, providers.ErrInvalidRef) {
		t.Errorf("Fetch of a hierarchy of 16 levels: %v, want ErrInvalidRef", err)
	}
}

// TestTagsAsLabels: a parameter's tags reach Value.Labels; they are read
// once per version (a tag changed without a new version shows with the
// next version), and a caller's change to Labels stays its own.
func TestTagsAsLabels(t *testing.T) {
	k := awstest.StartKumo(t)
	cfg, calls := k.CountingConfig()
	c := client(k, cfg)
	const name = "/tags/app/db"
	put(t, c, name, "one", types.ParameterTypeSecureString)
	tag(t, c, name, "owner", "payments")
	tag(t, c, name, "classification", "confidential")
	p := newProvider(t, c, nil)
	fetch := func() map[string]string {
		t.Helper()
		v, err := p.Fetch(t.Context(), Ref(name))
		if err != nil {
			t.Fatal(err)
		}
		v.Wipe()
		return v.Labels
	}
	want := map[string]string{"owner": "payments", "classification": "confidential"}
	calls.Reset()
	first := fetch()
	if !maps.Equal(first, want) {
		t.Errorf("Labels = %v, want %v", first, want)
	}
	first["owner"] = "changed by the caller"
	tag(t, c, name, "owner", "identity")
	if got := fetch(); !maps.Equal(got, want) {
		t.Errorf("Labels of the same version = %v, want the cached %v", got, want)
	}
	if n := calls.Count("ListTagsForResource"); n != 1 {
		t.Errorf("two fetches of one version listed tags %d times, want 1", n)
	}
	time.Sleep(2 * time.Millisecond) // AWS keeps versions' times to the millisecond
	put(t, c, name, "two", "")
	want["owner"] = "identity"
	if got := fetch(); !maps.Equal(got, want) {
		t.Errorf("Labels of a new version = %v, want %v", got, want)
	}
}

// TestRecreatedParameterNewVersion: a parameter deleted and created again
// starts at version 1 again; its Version still differs from the old
// version 1, so a store does not take the new value for the old.
func TestRecreatedParameterNewVersion(t *testing.T) {
	c := startKumo(t)
	p := newProvider(t, c, nil)
	const name = "/recreated/db"
	put(t, c, name, "old", types.ParameterTypeSecureString)
	v1, err := p.Fetch(t.Context(), Ref(name))
	if err != nil {
		t.Fatal(err)
	}
	v1.Wipe()
	remove(t, c, name)
	time.Sleep(2 * time.Millisecond)
	if n := put(t, c, name, "new", types.ParameterTypeSecureString); n != 1 {
		t.Fatalf("the re-created parameter has version %d", n)
	}
	v2, err := p.Fetch(t.Context(), Ref(name))
	if err != nil {
		t.Fatal(err)
	}
	v2.Wipe()
	if v1.Version == v2.Version {
		t.Errorf("the re-created parameter has the Version %q of the deleted one", v2.Version)
	}
}
