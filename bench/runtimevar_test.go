package bench

import (
	"context"
	"testing"

	"gocloud.dev/runtimevar"
	"gocloud.dev/runtimevar/constantvar"
)

// newVariable returns a constantvar Variable holding a 32-byte value,
// decoded as bytes, whose first value has arrived. It is closed when b ends.
func newVariable(b *testing.B) *runtimevar.Variable {
	b.Helper()
	v := constantvar.NewBytes(value32(), runtimevar.BytesDecoder)
	b.Cleanup(func() { v.Close() })
	snap, err := v.Latest(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	checkLen(b, "Variable.Latest", len(snap.Value.([]byte)))
	return v
}

// BenchmarkRuntimevarLatest is gocloud.dev's per-request read of a runtime
// variable, on the constant driver so that only the portable type is timed.
// Like BenchmarkStrongroomGet, which it is compared with, it takes a handle
// to the value (here the []byte out of the Snapshot) without reading the
// bytes.
func BenchmarkRuntimevarLatest(b *testing.B) {
	v := newVariable(b)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		snap, err := v.Latest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n += len(snap.Value.([]byte))
	}
	sink.Add(uint64(n))
}

func BenchmarkRuntimevarLatestParallel(b *testing.B) {
	v := newVariable(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			snap, err := v.Latest(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			n += len(snap.Value.([]byte))
		}
		sink.Add(uint64(n))
	})
}
