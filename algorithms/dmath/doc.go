// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// The functions of this package are copied from the pure-Go implementations
// in the Go standard library's math package (src/math/exp.go, log.go,
// log10.go, pow.go, hypot.go, sin.go, trig_reduce.go, atan.go, atan2.go),
// which carry the licence above (BSD-style; see the LICENSE file of the Go
// distribution). Changes: every product that feeds an addition or a
// subtraction is rounded explicitly with float64(...), so that no compiler
// may fuse it into an FMA; archXxx dispatch removed.

// Package dmath is deterministic elementary math: Exp, Log, Log10, Log2,
// Pow, Hypot, Sin, Cos, Atan and Atan2 that give bit-identical results on
// amd64 (any GOAMD64 level), arm64 and js/wasm.
//
// Why: math.Exp, Log and Hypot are assembly on amd64 and pure Go elsewhere,
// and differ in the last bit; math's pure-Go Sin, Cos and Atan are fused
// into FMA instructions on arm64 and with GOAMD64=v3. The grid compares chunk
// outputs by digest, so every volunteer must compute the same bits.
//
// Only operations that IEEE 754 rounds exactly are taken from math (Sqrt,
// Abs, Frexp, Ldexp, Modf, Copysign, Float64bits): those agree everywhere.
package dmath
