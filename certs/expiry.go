package certs

import (
	"crypto/x509"
	"sort"
	"strconv"
	"time"
)

// Threshold is a point before a certificate's NotAfter at which the
// [Source] publishes an [EventExpiring] (once per certificate) and logs a
// warning.
type Threshold struct {
	// Left: the threshold is crossed when this long, or less, is left.
	Left time.Duration
	// Fraction: when Left is zero, the threshold is crossed when this
	// fraction of the lifetime (NotBefore to NotAfter), or less, is left.
	// In (0, 1).
	Fraction float64
}

// DefaultThresholds returns the thresholds used when Options.Thresholds is
// nil: a third of the lifetime left, 7 days left, 1 day left. (Expiry
// itself is always reported, as [EventExpired].)
func DefaultThresholds() []Threshold {
	return []Threshold{{Fraction: 1.0 / 3}, {Left: 7 * 24 * time.Hour}, {Left: 24 * time.Hour}}
}

// String describes the threshold: "168h0m0s left" or "33% of lifetime left".
func (t Threshold) String() string {
	if t.Left > 0 {
		return t.Left.String() + " left"
	}
	return strconv.FormatFloat(t.Fraction*100, 'f', -1, 64) + "% of lifetime left"
}

// at returns when leaf crosses t.
func (t Threshold) at(leaf *x509.Certificate) time.Time {
	if t.Left > 0 {
		return leaf.NotAfter.Add(-t.Left)
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotAfter.Add(-time.Duration(float64(life) * t.Fraction))
}

func (t Threshold) valid() bool {
	return t.Left > 0 || t.Left == 0 && t.Fraction > 0 && t.Fraction < 1
}

// alarm is a threshold as a point in time for one certificate.
type alarm struct {
	at        time.Time
	threshold Threshold
	expired   bool // the certificate's NotAfter
}

// alarms returns the thresholds of leaf in time order, ending with its
// expiry. A threshold at or before NotBefore (7 days left, for a
// certificate that lives a day) says nothing and is skipped. Of those
// already crossed at now, only the last is kept (one warning for a
// certificate loaded late in its life, not one per threshold).
func alarms(leaf *x509.Certificate, thresholds []Threshold, now time.Time) []alarm {
	as := make([]alarm, 0, len(thresholds)+1)
	for _, t := range thresholds {
		if at := t.at(leaf); at.After(leaf.NotBefore) {
			as = append(as, alarm{at: at, threshold: t})
		}
	}
	sort.SliceStable(as, func(i, j int) bool { return as[i].at.Before(as[j].at) })
	as = append(as, alarm{at: leaf.NotAfter, expired: true})
	first := 0
	for i := 0; i < len(as)-1 && !as[i+1].at.After(now); i++ {
		first = i + 1
	}
	return as[first:]
}
