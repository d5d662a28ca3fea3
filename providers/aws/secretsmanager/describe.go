package secretsmanager

import (
	"fmt"
	"io"
	"log/slog"
)

// A Provider holds locks and a client, and Options a client and an AWS
// configuration whose credentials provider may hold static keys: both
// describe themselves without their fields, in fmt (every verb), slog and
// text (and so JSON) output, so that printing one neither shows a
// credential nor reads state other goroutines write.

// String describes the provider.
func (p *Provider) String() string { return "secretsmanager.Provider" }

// GoString is String, for %#v.
func (p *Provider) GoString() string { return p.String() }

// Format writes String for every fmt verb.
func (p *Provider) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }

// LogValue makes slog log String.
func (p *Provider) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalText returns String.
func (p *Provider) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// String describes the options: which are set, and the plain settings.
func (o Options) String() string {
	return fmt.Sprintf("secretsmanager.Options{Client: %s, Config: %s, PollInterval: %v, RecoveryWindowDays: %d, ForceDelete: %t, ListSecrets: %t, Logger: %s}",
		isSet(o.Client != nil), isSet(o.Config != nil), o.PollInterval, o.RecoveryWindowDays, o.ForceDelete, o.ListSecrets, isSet(o.Logger != nil))
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Format writes String for every fmt verb.
func (o Options) Format(f fmt.State, _ rune) { io.WriteString(f, o.String()) }

// LogValue makes slog log String.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalText returns String.
func (o Options) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

func isSet(ok bool) string {
	if ok {
		return "set"
	}
	return "none"
}
