// Command quickstart is a tour of strongroom in one run: it loads secrets
// from files and the environment, reads one without ever printing it, lists
// the inventory, sees a file rotate under it, generates a password, and is
// refused a secret outside its scope. See README.md for the expected output.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/secrets"
)

// envVar is the variable the env provider reads, and then removes.
const envVar = "QUICKSTART_BOOTSTRAP_TOKEN"

func main() {
	// run returns instead of exiting, so that its deferred clean-up (the
	// temporary directory, the store) happens before a failing exit.
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	section("1. Secret files in a temporary directory")
	dir, err := os.MkdirTemp("", "strongroom-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, f := range []struct{ name, content string }{ // obviously fake demo values
		{"db-password", "demo-db-password-v1"},
		{"app.json", `{"api": {"key": "demo-api-key-0000"}}`},
		{".env", "# mail relay\nSMTP_PASSWORD=demo-smtp-password\n"},
	} {
		// 0600: the file provider warns about secret files others can read.
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.content), 0o600); err != nil {
			return err
		}
		fmt.Printf("wrote %s (mode 0600)\n", f.name)
	}

	section("2. Open the store and declare the secrets")
	os.Setenv(envVar, "demo-bootstrap-token")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Relative refs resolve under Root, and cannot leave it.
	fileProvider, err := file.New(&file.Options{Root: dir, Logger: logger})
	if err != nil {
		return err
	}
	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{
			"file": fileProvider,
			"env":  env.New(&env.Options{Unset: true}), // child processes will not inherit it
		},
		Logger: logger, // names, versions and reasons; never values
	})
	if err != nil { // Open has closed the providers: they are the store's now
		return err
	}
	defer store.Close()

	specs := []secrets.Spec{
		{Name: "db-password", Ref: "file:db-password", Kind: secrets.KindPassword, Owner: "checkout", Classification: secrets.Restricted},
		{Name: "api-key", Ref: "file:app.json#/api/key", Kind: secrets.KindToken, Owner: "checkout", Classification: secrets.Confidential},
		{Name: "smtp-password", Ref: "file:.env#SMTP_PASSWORD", Kind: secrets.KindPassword, Owner: "notifications", Classification: secrets.Confidential},
		{Name: "bootstrap-token", Ref: "env:" + envVar, Kind: secrets.KindToken, Owner: "platform", Classification: secrets.Internal},
	}
	for _, spec := range specs {
		// Add returns at once; the value loads in the background.
		if err := store.Add(spec); err != nil {
			return err
		}
		fmt.Printf("declared %-16s <- %s\n", spec.Name, spec.Ref)
	}
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := store.Ready(readyCtx); err != nil { // every first load has been tried
		return err
	}
	_, found := os.LookupEnv(envVar)
	fmt.Printf("all loaded; os.LookupEnv(%q) finds it: %t\n", envVar, found)

	section("3. Read a secret")
	// The plaintext exists only inside the function, in locked memory that
	// is wiped when it returns: use it there, never keep it.
	var n int
	if err := store.Use(ctx, "db-password", func(pw []byte) error {
		n = len(pw) // a real program would open its database connection here
		return nil
	}); err != nil {
		return err
	}
	fmt.Printf("db-password is %d bytes long\n", n)
	handle, err := store.Get(ctx, "db-password")
	if err != nil {
		return err
	}
	fmt.Printf("the handle, printed with %%v: %v\n", handle) // every verb, slog and JSON redact it too

	section("4. Inventory (metadata only, never values)")
	printInventory(store.Inventory())

	section("5. Rotation: the file changes, the store follows")
	rotated := make(chan secrets.Event, 1)
	stop, err := store.Subscribe("db-password", func(e secrets.Event) {
		if e.Kind == secrets.EventRotated {
			select {
			case rotated <- e:
			default: // only the first rotation matters here
			}
		}
	})
	if err != nil {
		return err
	}
	defer stop()
	if err := replaceFile(filepath.Join(dir, "db-password"), "demo-db-password-version-2"); err != nil {
		return err
	}
	fmt.Println("replaced db-password by rename, as an editor or Kubernetes would")
	select {
	case e := <-rotated:
		fmt.Printf("event: %s (%s -> %s)\n", e.Kind, e.PreviousVersion, e.Version)
	case <-time.After(15 * time.Second):
		return errors.New("no rotation event within 15s")
	}
	if handle, err = store.Get(ctx, "db-password"); err != nil {
		return err
	}
	fmt.Printf("db-password is now %d bytes long; no restart needed\n", handle.Len())

	section("6. Generate a password")
	// No Ref: the value is made in locked memory and lives only in this
	// process. With a Ref to a writable provider it would be stored there.
	admin, err := store.Create(ctx, secrets.Spec{Name: "admin-password", Kind: secrets.KindPassword,
		Owner: "platform", Classification: secrets.Restricted}, &secrets.RandomPassword{Length: 24})
	if err != nil {
		return err
	}
	fmt.Printf("admin-password: %d characters, version %s\n", admin.Len(), admin.Version())

	section("7. Least privilege: a scoped view")
	reporting, err := store.Scope("reporting", "smtp-*") // reporting only sends mail
	if err != nil {
		return err
	}
	if err := reporting.Use(ctx, "smtp-password", func([]byte) error { return nil }); err != nil {
		return err
	}
	fmt.Println("reporting read smtp-password: ok")
	err = reporting.Use(ctx, "db-password", func([]byte) error { return nil })
	if !errors.Is(err, secrets.ErrPermission) {
		return fmt.Errorf("want a permission error, got %v", err)
	}
	fmt.Printf("reporting read db-password: %v\n", err)

	section("8. Close")
	if err := store.Close(); err != nil { // wipes every value, stops every goroutine
		return err
	}
	_, err = store.Get(ctx, "db-password")
	fmt.Printf("after Close: %v\n", err)
	return nil
}

// replaceFile writes content to a temporary file beside path and renames it
// over path, so that a reader sees the old file or the new, never half of one.
func replaceFile(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func printInventory(inv []secrets.Metadata) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSOURCE\tKIND\tOWNER\tCLASS\tVERSION\tSTATE\tREADS")
	for _, m := range inv {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n",
			m.Name, m.Source, m.Kind, m.Owner, m.Classification, m.Version, m.State, m.Reads)
	}
	w.Flush()
}

func section(title string) { fmt.Printf("\n== %s ==\n", title) }
