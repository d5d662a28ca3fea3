// Package busy lets background work report itself to a virtual clock that
// waits for it, so that a test moving the clock knows when what it made
// due has finished.
//
// [github.com/strongroom/strongroom/providers/memory.Clock] is such a clock:
// its Advance fires the timers that come due one at a time, and after each
// waits until every hold taken is released. Code that starts background
// work on behalf of a clock (a fetch, an event delivery, a refresh) takes a
// hold before it starts the goroutine and releases it when the work is done.
// With any other clock (the wall clock, a synctest bubble's), holds cost
// nothing and do nothing.
package busy

import "context"

// Holder is implemented by clocks that wait for background work.
type Holder interface {
	// Hold counts one piece of work in progress until release is called
	// (release is idempotent). The returned context carries the hold, so
	// that code waiting on the same clock with it (a scripted latency) can
	// set the hold aside while it waits for time to pass.
	Hold(ctx context.Context) (context.Context, func())
}

// Hold takes a hold on clock when it is a [Holder]; otherwise it returns
// ctx and a release that does nothing.
func Hold(clock any, ctx context.Context) (context.Context, func()) {
	if h, ok := clock.(Holder); ok {
		return h.Hold(ctx)
	}
	return ctx, nop
}

// Func returns a function that takes a hold on clock with a background
// context, for code that has no context to carry it (event delivery).
func Func(clock any) func() func() {
	h, ok := clock.(Holder)
	if !ok {
		return nil
	}
	return func() func() {
		_, release := h.Hold(context.Background())
		return release
	}
}

func nop() {}
