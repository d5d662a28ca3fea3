package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/strongroom/strongroom/providers/file"
)

func Example() {
	dir, err := os.MkdirTemp("", "strongroom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	config := []byte(`{"db": {"user": "app", "password": "s3cr\u0065t"}}`)
	if err := os.WriteFile(filepath.Join(dir, "app.json"), config, 0o600); err != nil {
		log.Fatal(err)
	}

	p, err := file.New(&file.Options{Root: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	ctx := context.Background()
	v, err := p.Fetch(ctx, "file:app.json#/db/password")
	if err != nil {
		log.Fatal(err)
	}
	defer v.Wipe()
	fmt.Printf("%s\n", v.Data)

	_, err = p.Fetch(ctx, "file:../etc/passwd")
	fmt.Println(err)
	// Output:
	// s3cret
	// providers/file: reference "file:../etc/passwd" has a relative path that leaves its root: invalid reference
}

// ExampleProvider_Watch fetches a token again whenever its file changes.
func ExampleProvider_Watch() {
	dir, err := os.MkdirTemp("", "strongroom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p, err := file.New(&file.Options{Root: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	changed := make(chan struct{}, 1)
	stop, err := p.Watch(context.Background(), "file:token", func() {
		select {
		case changed <- struct{}{}: // never block: a pending signal is enough
		default:
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	if _, err := p.Write(context.Background(), "file:token", []byte("t1")); err != nil {
		log.Fatal(err)
	}
	<-changed
	v, err := p.Fetch(context.Background(), "file:token")
	if err != nil {
		log.Fatal(err)
	}
	defer v.Wipe()
	fmt.Printf("token is now %s\n", v.Data)
	// Output: token is now t1
}
