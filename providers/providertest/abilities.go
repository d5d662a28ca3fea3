package providertest

import (
	"bytes"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func testWrite(t *testing.T, h Harness) {
	f := open(t, h)
	w := as[providers.Writer](t, f.p)
	f.set("alpha")
	var last string
	for _, c := range []struct{ name, what string }{
		{"alpha", "Write over a Set"},
		{"alpha", "second Write"},
		{"fresh", "Write of a secret that did not exist"},
	} {
		data := f.secret(c.name)
		want := bytes.Clone(data)
		version, err := w.Write(t.Context(), f.ref(c.name), data)
		if err != nil {
			f.checkErr(err, c.what)
			t.Fatalf("providertest: %s: %v", c.what, err)
		}
		scribble(data) // Write must not have kept it
		f.checkVersion(version, c.what)
		v := f.expectData(c.name, want, "Fetch after "+c.what)
		if h.Caps.Versioned && v.Version != version {
			t.Errorf("providertest: %s returned version %q, but Fetch reports %q", c.what, version, v.Version)
		}
		if h.Caps.Versioned && version == last {
			t.Errorf("providertest: %s returned the version %q of the previous Write", c.what, version)
		}
		last = version
		v.Wipe()
	}
}

func testDelete(t *testing.T, h Harness) {
	f := open(t, h)
	d := as[providers.Deleter](t, f.p)
	f.set("alpha")
	if err := d.Delete(t.Context(), f.ref("alpha")); err != nil {
		f.checkErr(err, "Delete")
		t.Fatalf("providertest: Delete: %v", err)
	}
	f.expectMissing("alpha", "Fetch after Delete")
	f.expectErr(d.Delete(t.Context(), f.ref("alpha")), providers.ErrNotFound, "Delete of a deleted secret")
	f.expectErr(d.Delete(t.Context(), f.ref("missing")), providers.ErrNotFound, "Delete of a secret never set")
	if h.Caps.Mutable {
		f.expectData("alpha", f.set("alpha"), "Fetch after Set re-created a deleted secret").Wipe()
	}
}

func testRevoke(t *testing.T, h Harness) {
	f := open(t, h)
	r := as[providers.Revoker](t, f.p)
	f.set("alpha")
	v := f.fetch("alpha", "Fetch before Revoke")
	v.Wipe()
	ctx, ref := t.Context(), f.ref("alpha")
	if err := r.Revoke(ctx, ref, v.Version); err != nil {
		f.checkErr(err, "Revoke of the current version")
		t.Errorf("providertest: Revoke of the current version %q: %v", v.Version, err)
	}
	f.expectErr(r.Revoke(ctx, ref, "providertest-unknown-version"), providers.ErrNotFound, "Revoke of an unknown version")
	f.expectErr(r.Revoke(ctx, f.ref("missing"), v.Version), providers.ErrNotFound, "Revoke of a secret never set")
}
