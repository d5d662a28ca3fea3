//go:build !race

package vhash

const raceEnabled = false
