// Package fmalint proves that algorithms/ computes the same bits on every
// platform a volunteer may use.
//
// Go fuses x*y+z into one fused multiply-add on arm64 always and on amd64
// with GOAMD64=v3 — across statements and through inlined calls, not only in
// one expression — and an FMA rounds once where a multiply and an add round
// twice. An explicit conversion, float64(x*y) + z, forbids the fusion. The
// standard library's pure-Go math functions are compiled with fusion too, so
// they differ between arm64 and amd64, and Exp, Log, Pow and Hypot are
// assembly on amd64 besides. The tests here compile algorithms/ for arm64
// and fail on any fused instruction, and fail on calls to the math functions
// that are not exact everywhere (use algorithms/dmath).
package fmalint
