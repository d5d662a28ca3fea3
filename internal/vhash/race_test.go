//go:build race

package vhash

// raceEnabled: the race detector's calls overwrite the stack below a
// frame, so a copy left there cannot be shown.
const raceEnabled = true
