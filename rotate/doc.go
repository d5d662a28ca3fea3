// Package rotate rotates credentials actively: it creates a new one,
// deploys it to the system where it is valid (a [Target]), tests it,
// promotes it to current in the backend that every consumer reads through
// a [secrets.Store], and after an overlap retires the old one; with a way
// back at every step.
//
// Work in progress: see the repository's issue on active rotation.
package rotate
