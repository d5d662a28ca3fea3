package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/rotate"
)

// maxRole is the longest role name PostgreSQL keeps (NAMEDATALEN - 1); it
// truncates longer ones, which could name another role.
const maxRole = 63

// defaultConnectTimeout bounds Test's connection when neither Options nor
// the template says.
const defaultConnectTimeout = 10 * time.Second

// ErrNotManaged is matched (errors.Is) by the error of a method called
// with a Credential whose Account is not one of Options.Roles.
var ErrNotManaged = errors.New("role not managed by this target")

// Error is the error of a [Target]'s method: which method, for which
// role, and why. It never holds the secret.
type Error struct {
	Op   string // "Set", "Test" or "Retire"
	Role string // the role acted on (for Retire, the one being retired)
	Err  error  // the cause: ErrNotManaged, pgx's error, ...
}

func (e *Error) Error() string {
	msg := "postgres: " + e.Op + " role " + strconv.Quote(e.Role)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Options configure [New]. Roles is required; every other field has a
// default.
type Options struct {
	// Roles are the roles whose passwords the target manages: one for
	// [rotate.InPlace], the two of a pair for [rotate.Alternating]. They
	// must exist: the target changes passwords, it creates nothing. Names
	// are as PostgreSQL spells them (case matters; they are quoted), of 1
	// to 63 bytes.
	Roles []string

	// ConnConfig is the template of the connections Test opens: host,
	// port, database, TLS and the rest, without credentials. It must be
	// made by pgx.ParseConfig (pgx panics otherwise). Test replaces its
	// User and Password; New drops its Password and its
	// OAuthTokenProvider, so that a login proves the password. Nil: the
	// admin pool's connection configuration, so consumers are taken to
	// reach the server as the admin does.
	ConnConfig *pgx.ConnConfig

	// Host, Port and Database override the template's. "" and 0: the
	// template's.
	Host     string
	Port     uint16
	Database string

	// ConnectTimeout bounds each connection attempt of Test (pgconn's
	// ConnectTimeout). Zero: the template's, or 10 seconds if it has none.
	ConnectTimeout time.Duration

	// Rand is the source of the salts of the SCRAM verifiers Set makes.
	// Nil: crypto/rand.
	Rand io.Reader
}

// String describes the options: the roles and where Test connects.
func (o Options) String() string {
	return fmt.Sprintf("postgres.Options{Roles: %q, Host: %q, Port: %d, Database: %q}", o.Roles, o.Host, o.Port, o.Database)
}

// Format writes String for every verb: fmt would otherwise walk into the
// template's TLS configuration, and its lock.
func (o Options) Format(f fmt.State, _ rune) { io.WriteString(f, o.String()) }

// Target is a [rotate.Target] for the passwords of PostgreSQL roles. It is
// safe for concurrent use, and holds no secret between calls.
type Target struct {
	admin    *pgxpool.Pool
	roles    []string
	template *pgx.ConnConfig
	rand     io.Reader
}

// New returns a Target that changes the passwords of opts.Roles through
// admin, a pool connected as a role allowed to: a superuser, or for roles
// that are not superusers a role with CREATEROLE (from PostgreSQL 16 on,
// with ADMIN OPTION on them too). The pool remains the caller's to close,
// after the target's last call.
func New(admin *pgxpool.Pool, opts *Options) (*Target, error) {
	if admin == nil {
		return nil, errors.New("postgres: New needs an admin pool")
	}
	if opts == nil || len(opts.Roles) == 0 {
		return nil, errors.New("postgres: Options.Roles is empty: name the role (in place) or the two roles (alternating)")
	}
	if len(opts.Roles) > 2 {
		return nil, fmt.Errorf("postgres: Options.Roles has %d roles: a role holds one password, so a target manages one role (in place) or two (alternating)", len(opts.Roles))
	}
	for i, r := range opts.Roles {
		if r == "" || len(r) > maxRole {
			return nil, fmt.Errorf("postgres: Options.Roles[%d] has %d bytes, want 1 to %d", i, len(r), maxRole)
		}
		if strings.IndexByte(r, 0) >= 0 {
			return nil, fmt.Errorf("postgres: Options.Roles[%d] holds a NUL byte", i)
		}
		if slices.Index(opts.Roles, r) != i {
			return nil, fmt.Errorf("postgres: Options.Roles names %q twice", r)
		}
	}
	var template *pgx.ConnConfig
	if opts.ConnConfig != nil {
		template = opts.ConnConfig.Copy()
	} else {
		template = admin.Config().ConnConfig // a copy
	}
	template.User, template.Password = "", ""
	template.OAuthTokenProvider = nil
	if opts.Host != "" {
		template.Host = opts.Host
		template.Fallbacks = nil
	}
	if opts.Port != 0 {
		template.Port = opts.Port
	}
	if opts.Database != "" {
		template.Database = opts.Database
	}
	if opts.ConnectTimeout > 0 {
		template.ConnectTimeout = opts.ConnectTimeout
	} else if template.ConnectTimeout == 0 {
		template.ConnectTimeout = defaultConnectTimeout
	}
	t := &Target{admin: admin, roles: slices.Clone(opts.Roles), template: template, rand: opts.Rand}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	return t, nil
}

// Set makes c.Secret the password of role c.Account, which may log in
// (ALTER ROLE ... WITH LOGIN PASSWORD): in place, the role's old password
// stops working; alternating, c.Account is the idle role. The statement
// carries a SCRAM-SHA-256 verifier computed here (a fresh random salt,
// 4096 iterations, as psql's \password does), never the password, so
// neither the server's logs nor pg_stat_statements see it. Setting the
// same secret again succeeds (with a new salt).
//
// Set refuses an empty secret, one with a NUL byte, and non-ASCII UTF-8:
// PostgreSQL normalises such a password (SASLprep) before hashing it, and
// this target does not. Sessions already open as the role stay open:
// PostgreSQL checks passwords only at login.
func (t *Target) Set(ctx context.Context, c rotate.Credential) error {
	role, err := t.managed("Set", c.Account)
	if err != nil {
		return err
	}
	if err := checkPassword(c.Secret); err != nil {
		return &Error{Op: "Set", Role: role, Err: err}
	}
	salt, err := newSalt(t.rand)
	if err != nil {
		return &Error{Op: "Set", Role: role, Err: err}
	}
	sql := "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " WITH LOGIN PASSWORD '" + scramVerifier(c.Secret, salt, scramIterations) + "'"
	// The simple protocol: a utility statement takes no parameters, and
	// pgx's statement cache need not keep the verifier.
	if _, err := t.admin.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return &Error{Op: "Set", Role: role, Err: err}
	}
	return nil
}

// Test logs in as c.Account with c.Secret over a connection of its own
// (the template of Options.ConnConfig), runs SELECT 1 and closes it.
//
// It proves the password only where pg_hba.conf asks this role for one
// (scram-sha-256, or md5 with a SCRAM verifier stored): under trust, peer
// or cert authentication any password logs in.
//
// pgx takes a password as a Go string, so Test makes one from c.Secret: a
// copy in ordinary memory that cannot be wiped and stays there until the
// garbage collector reuses it. Test drops every reference to it before it
// returns (pgx's connection error included), but cannot do better without
// a driver that takes bytes. A Tracer in the template sees the
// configuration, password included, when pgx connects.
func (t *Target) Test(ctx context.Context, c rotate.Credential) error {
	role, err := t.managed("Test", c.Account)
	if err != nil {
		return err
	}
	if len(c.Secret) == 0 {
		return &Error{Op: "Test", Role: role, Err: errEmpty}
	}
	cfg := t.template.Copy()
	cfg.User = role
	cfg.Password = string(c.Secret)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	cfg.Password = ""
	if err != nil {
		return &Error{Op: "Test", Role: role, Err: withoutPassword(err)}
	}
	var one int
	err = conn.QueryRow(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol).Scan(&one)
	if cerr := conn.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{Op: "Test", Role: role, Err: err}
	}
	return nil
}

// Retire makes the password of every role of Options.Roles other than
// keep.Account invalid (ALTER ROLE ... WITH PASSWORD NULL), so that a
// password login as it fails; keep's role is left alone. In place, with
// one role, there is nothing to retire and Retire returns nil. Retiring a
// retired role succeeds. Sessions already open as a retired role stay
// open, and a role that pg_hba.conf lets in without a password still
// gets in.
func (t *Target) Retire(ctx context.Context, keep rotate.Credential) error {
	keepRole, err := t.managed("Retire", keep.Account)
	if err != nil {
		return err
	}
	for _, role := range t.roles {
		if role == keepRole {
			continue
		}
		sql := "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " WITH PASSWORD NULL"
		if _, err := t.admin.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return &Error{Op: "Retire", Role: role, Err: err}
		}
	}
	return nil
}

// String names the roles the target manages.
func (t *Target) String() string {
	return fmt.Sprintf("postgres.Target{Roles: %q}", t.roles)
}

// Format writes String for every verb: fmt would otherwise walk into the
// pool, and its locks.
func (t *Target) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// managed returns account if it is one of the target's roles, and an
// *Error matching ErrNotManaged if not.
func (t *Target) managed(op, account string) (string, error) {
	if !slices.Contains(t.roles, account) {
		return "", &Error{Op: op, Role: account, Err: fmt.Errorf("%w (it manages %q)", ErrNotManaged, t.roles)}
	}
	return account, nil
}

// withoutPassword drops the password from pgx's connection error, which
// keeps the configuration it tried (password included) for errors.As to
// find; what its message says is unchanged.
func withoutPassword(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Config != nil {
		ce.Config = &pgconn.Config{Host: ce.Config.Host, Port: ce.Config.Port, Database: ce.Config.Database, User: ce.Config.User}
	}
	return err
}

var _ rotate.Target = (*Target)(nil)
