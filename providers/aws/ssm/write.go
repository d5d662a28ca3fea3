package ssm

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awserr"
)

// Write stores data as a new version of the parameter ref names and
// returns its Version. ref must name the parameter itself (no version,
// label or fragment: [providers.ErrUnsupported]). Parameter Store holds
// text: data must be valid UTF-8 and not empty ([providers.ErrInvalid]).
//
// It reads the parameter's metadata first (DescribeParameters), then:
//
//   - a parameter that does not exist is created (PutParameter without
//     Overwrite) as a SecureString under Options.KeyID, in Options.Tier;
//     one created by someone else in between is then overwritten;
//   - one that exists is overwritten (PutParameter with Overwrite) with
//     its own type, KMS key, data type, allowed pattern and description,
//     so that a String stays a String and a StringList takes data as its
//     comma-separated items; its tier is Options.Tier, else kept when it
//     is Advanced.
//
// A last DescribeParameters (or, when another write came after, a
// GetParameter of the version by number, without decryption) reads the
// time of the new version, part of the Version returned: a Write costs
// three calls. When neither tells (the parameter deleted since, or an
// emulator without version selectors), the Version is the bare number,
// which no Fetch reports: a caller comparing it sees a change, never a
// false match.
//
// Write does not keep data, but the SDK sends it as a string, which
// cannot be wiped and lives on the heap until collected.
func (p *Provider) Write(ctx context.Context, s string, data []byte) (string, error) {
	r, err := p.writable(s, "Write")
	if err != nil {
		return "", err
	}
	if len(data) == 0 || !utf8.Valid(data) {
		return "", fmt.Errorf("%sWrite %q: Parameter Store holds text: the data is empty or not valid UTF-8: %w", prefix, r.name, providers.ErrInvalid)
	}
	k := key(r.name)
	for attempt := 0; ; attempt++ {
		metas, _, err := p.describe(ctx, []string{k})
		if err != nil {
			return "", err
		}
		meta, exists := metas[k]
		in := p.putInput(r.name, data, meta, exists)
		out, err := p.client.PutParameter(ctx, in)
		if err != nil {
			if !exists && attempt == 0 && awserr.Code(err) == "ParameterAlreadyExists" && ctx.Err() == nil {
				continue // created by someone else since: overwrite it
			}
			return "", apiError(ctx, "PutParameter", r.name, err)
		}
		p.forget(k)
		return p.written(ctx, r.name, out.Version), nil
	}
}

// putInput is the PutParameter request that stores data in parameter
// name, whose metadata is meta when it exists.
func (p *Provider) putInput(name string, data []byte, meta types.ParameterMetadata, exists bool) *ssm.PutParameterInput {
	value := string(data)
	in := &ssm.PutParameterInput{Name: &name, Value: &value, Tier: p.tier}
	if !exists {
		in.Overwrite = aws.Bool(false)
		in.Type = types.ParameterTypeSecureString
		if p.keyID != "" {
			in.KeyId = &p.keyID
		}
		return in
	}
	in.Overwrite = aws.Bool(true)
	in.Type = meta.Type
	if meta.Type == types.ParameterTypeSecureString {
		in.KeyId = meta.KeyId
	}
	in.DataType = meta.DataType
	in.AllowedPattern = meta.AllowedPattern
	in.Description = meta.Description
	if in.Tier == "" && meta.Tier == types.ParameterTierAdvanced {
		in.Tier = types.ParameterTierAdvanced // AWS cannot take one back to Standard
	}
	return in
}

// written returns the Version of version n of parameter name, just
// written: its time, from DescribeParameters while it is still the
// current one, else from GetParameter of "name:n" (without decryption:
// the value is not needed). When neither tells (the parameter deleted
// since, or an emulator without version selectors), it returns the number
// alone, a Version no Fetch reports: a caller comparing it with one sees
// a change, never a false match.
func (p *Provider) written(ctx context.Context, name string, n int64) string {
	k := key(name)
	if metas, _, err := p.describe(ctx, []string{k}); err == nil {
		if m, ok := metas[k]; ok && m.Version == n {
			return versionOf(n, m.LastModifiedDate)
		}
	}
	sel := ref{name: name, version: n}.selector()
	out, err := p.client.GetParameter(ctx, &ssm.GetParameterInput{Name: &sel})
	if err != nil || out.Parameter == nil || out.Parameter.Version != n {
		return strconv.FormatInt(n, 10)
	}
	return versionOf(n, out.Parameter.LastModifiedDate)
}
