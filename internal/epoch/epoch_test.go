package epoch

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// object is what readers use and the owner wipes.
type object struct {
	gone  atomic.Bool
	wiped atomic.Bool
	data  [8]int64
}

// TestRetireWaitsForReaders: a function retired while a reader is in runs
// only once it has left.
func TestRetireWaitsForReaders(t *testing.T) {
	d := New()
	tok := d.Enter()
	ran := make(chan struct{})
	d.Retire(func() { close(ran) })
	select {
	case <-ran:
		t.Fatal("retired function ran while a reader was in")
	case <-time.After(50 * time.Millisecond):
	}
	d.Leave(tok)
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("retired function did not run after the reader left")
	}
	d.Wait()
}

// TestRetireWithoutReaders runs at once, and Wait returns after.
func TestRetireWithoutReaders(t *testing.T) {
	d := New()
	var n atomic.Int32
	for range 100 {
		d.Retire(func() { n.Add(1) })
	}
	d.Wait()
	if n.Load() != 100 {
		t.Fatalf("%d of 100 retired functions ran before Wait returned", n.Load())
	}
}

// TestNoUseAfterWipe: readers on every core take the current object,
// enter, check it is live and read it, while the owner replaces it, marks
// the old one gone and retires its wipe: no reader ever sees a wiped
// object it found live.
func TestNoUseAfterWipe(t *testing.T) {
	d := New()
	var cur atomic.Pointer[object]
	cur.Store(&object{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var uses, refused atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				o := cur.Load()
				tok := d.Enter()
				if o.gone.Load() {
					refused.Add(1)
					d.Leave(tok)
					continue
				}
				// Hold the object a while, as a Use's function does.
				for range 4 {
					runtime.Gosched()
					for i := range o.data {
						if o.wiped.Load() || o.data[i] != 0 {
							t.Error("a reader used an object after its wipe")
						}
					}
				}
				uses.Add(1)
				d.Leave(tok)
			}
		}()
	}
	for range 2000 {
		old := cur.Swap(&object{})
		old.gone.Store(true)
		d.Retire(func() {
			old.wiped.Store(true)
			for i := range old.data {
				old.data[i] = -1
			}
		})
	}
	close(stop)
	wg.Wait()
	d.Wait()
	t.Logf("%d uses, %d refused as gone, 2000 objects retired", uses.Load(), refused.Load())
}
