//go:build amd64.v3

package dmath

// fmaBuild: the compiler may fuse FMA in math's own pure-Go code.
const fmaBuild = true
