package ssm

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/providers"
)

// typeOf returns the type DescribeParameters reports for name.
func typeOf(t *testing.T, c *ssm.Client, name string) types.ParameterType {
	t.Helper()
	out, err := c.DescribeParameters(context.Background(), &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{
		{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{name}}}})
	if err != nil || len(out.Parameters) != 1 {
		t.Fatalf("DescribeParameters(%q): %d parameters, %v", name, len(out.Parameters), err)
	}
	return out.Parameters[0].Type
}

// TestWriteTypes: Write creates a SecureString, keeps the type of a
// parameter that exists, and returns the Version the next Fetch reports.
func TestWriteTypes(t *testing.T) {
	c := startKumo(t)
	p := newProvider(t, c, nil)
	put(t, c, "/write/plain", "v1", types.ParameterTypeString)
	put(t, c, "/write/list", "a,b", types.ParameterTypeStringList)
	for _, tc := range []struct {
		name string
		want types.ParameterType
	}{
		{"/write/new", types.ParameterTypeSecureString},
		{"write-top", types.ParameterTypeSecureString},
		{"/write/plain", types.ParameterTypeString},
		{"/write/list", types.ParameterTypeStringList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version, err := p.Write(t.Context(), Ref(tc.name), []byte("x,y"))
			if err != nil {
				t.Fatal(err)
			}
			if got := typeOf(t, c, tc.name); got != tc.want {
				t.Errorf("type after Write = %s, want %s", got, tc.want)
			}
			v, err := p.Fetch(t.Context(), Ref(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			defer v.Wipe()
			if string(v.Data) != "x,y" || v.Version != version {
				t.Errorf("Fetch after Write: %q, version %q; Write returned version %q", v.Data, v.Version, version)
			}
		})
	}
}

// TestWriteRefused: what Write and Delete refuse before any call.
func TestWriteRefused(t *testing.T) {
	c := startKumo(t)
	p := newProvider(t, c, nil)
	for _, tc := range []struct {
		ref  string
		data string
		want error
	}{
		{"ssm:/refused/a?version=1", "x", providers.ErrUnsupported},
		{"ssm:/refused/a?label=current", "x", providers.ErrUnsupported},
		{"ssm:/refused/a#/member", "x", providers.ErrUnsupported},
		{"ssm:/refused/a", "", providers.ErrInvalid},
		{"ssm:/refused/a", "not UTF-8 \xff", providers.ErrInvalid},
	} {
		if _, err := p.Write(t.Context(), tc.ref, []byte(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("Write(%q, %q): %v, want %v", tc.ref, tc.data, err, tc.want)
		}
	}
	if err := p.Delete(t.Context(), "ssm:/refused/a?version=1"); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Delete of a version: %v, want ErrUnsupported", err)
	}
	if _, err := p.Fetch(t.Context(), Ref("/refused/a")); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("a refused Write created the parameter: %v", err)
	}
}
