package env_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
)

// With Unset, the first fetch takes the variable out of the environment, so
// child processes started afterwards do not inherit it.
func Example() {
	os.Setenv("EXAMPLE_API_TOKEN", "t0k3n")
	p := env.New(&env.Options{Unset: true})
	defer p.Close()

	v, err := p.Fetch(context.Background(), "env://EXAMPLE_API_TOKEN")
	fmt.Println(len(v.Data), "bytes,", err)
	v.Wipe()

	_, set := os.LookupEnv("EXAMPLE_API_TOKEN")
	fmt.Println("still in the environment:", set)

	_, err = p.Fetch(context.Background(), "env://EXAMPLE_API_TOKEN")
	fmt.Println(errors.Is(err, providers.ErrNotFound), err)
	// Output:
	// 5 bytes, <nil>
	// still in the environment: false
	// true providers/env: fetch env://EXAMPLE_API_TOKEN: not found
}
