// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package dmath

import "math"

// The original C code, the long comment, and the constants below are from
// http://netlib.sandia.gov/cephes/cmath/sin.c, available from
// http://www.netlib.org/cephes/cmath.tgz, with this notice:
//
//	Cephes Math Library Release 2.8:  June, 2000
//	Copyright 1984, 1995, 2000 by Stephen L. Moshier
//
// The readme file at http://netlib.sandia.gov/cephes/ says:
//
//	Some software in this archive may be from the book _Methods and
//	Programs for Mathematical Functions_ (Prentice-Hall or Simon & Schuster
//	International, 1989) or from the Cephes Mathematical Library, a
//	commercial product. In either event, it is copyrighted by the author.
//	What you see here may be used freely but it comes with no support or
//	guarantee.
//
//	The two known misprints in the book are repaired here in the
//	source listings for the gamma function and the incomplete beta
//	integral.
//
//	Stephen L. Moshier
//	moshier@na-net.ornl.gov

// sin coefficients
var _sin = [...]float64{
	1.58962301576546568060e-10, // 0x3de5d8fd1fd19ccd
	-2.50507477628578072866e-8, // 0xbe5ae5e5a9291f5d
	2.75573136213857245213e-6,  // 0x3ec71de3567d48a1
	-1.98412698295895385996e-4, // 0xbf2a01a019bfdf03
	8.33333333332211858878e-3,  // 0x3f8111111110f7d0
	-1.66666666666666307295e-1, // 0xbfc5555555555548
}

// cos coefficients
var _cos = [...]float64{
	-1.13585365213876817300e-11, // 0xbda8fa49a0861a9b
	2.08757008419747316778e-9,   // 0x3e21ee9d7b4e3f05
	-2.75573141792967388112e-7,  // 0xbe927e4f7eac4bc6
	2.48015872888517045348e-5,   // 0x3efa01a019c844f5
	-1.38888888888730564116e-3,  // 0xbf56c16c16c14f91
	4.16666666666665929218e-2,   // 0x3fa555555555554b
}

// Pi/4 split into three parts, for extended precision reduction.
const (
	pi4A = 7.85398125648498535156e-1  // 0x3fe921fb40000000
	pi4B = 3.77489470793079817668e-8  // 0x3e64442d00000000
	pi4C = 2.69515142907905952645e-15 // 0x3ce8469898cc5170
)

// reduce returns the octant j (0..7) and the remainder z of x ≥ 0 modulo Pi/4.
func reduce(x float64) (j uint64, z float64) {
	if x >= reduceThreshold {
		return trigReduce(x)
	}
	j = uint64(x * (4 / math.Pi)) // integer part of x/(Pi/4), as integer for tests on the phase angle
	y := float64(j)               // integer part of x/(Pi/4), as float

	// map zeros to origin
	if j&1 == 1 {
		j++
		y++
	}
	j &= 7                                                          // octant modulo 2Pi radians (360 degrees)
	z = ((x - float64(y*pi4A)) - float64(y*pi4B)) - float64(y*pi4C) // Extended precision modular arithmetic
	return j, z
}

// sinPoly is the sine polynomial on [-Pi/4, Pi/4], zz = z*z.
func sinPoly(z, zz float64) float64 {
	p := float64(_sin[0]*zz) + _sin[1]
	p = float64(p*zz) + _sin[2]
	p = float64(p*zz) + _sin[3]
	p = float64(p*zz) + _sin[4]
	p = float64(p*zz) + _sin[5]
	return z + float64(float64(z*zz)*p)
}

// cosPoly is the cosine polynomial on [-Pi/4, Pi/4], zz = z*z.
func cosPoly(zz float64) float64 {
	p := float64(_cos[0]*zz) + _cos[1]
	p = float64(p*zz) + _cos[2]
	p = float64(p*zz) + _cos[3]
	p = float64(p*zz) + _cos[4]
	p = float64(p*zz) + _cos[5]
	return 1.0 - float64(0.5*zz) + float64(float64(zz*zz)*p)
}

// Cos returns the cosine of the radian argument x, as math's pure-Go cos.
//
// Special cases are:
//
//	Cos(±Inf) = NaN
//	Cos(NaN) = NaN
func Cos(x float64) float64 {
	// special cases
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return math.NaN()
	}

	// make argument positive; rounding it first keeps an inlined caller's
	// product from fusing into the reduction
	sign := false
	x = math.Abs(float64(x))

	j, z := reduce(x)
	if j > 3 {
		j -= 4
		sign = !sign
	}
	if j > 1 {
		sign = !sign
	}

	var y float64
	zz := float64(z * z)
	if j == 1 || j == 2 {
		y = sinPoly(z, zz)
	} else {
		y = cosPoly(zz)
	}
	if sign {
		y = -y
	}
	return y
}

// Sin returns the sine of the radian argument x, as math's pure-Go sin.
//
// Special cases are:
//
//	Sin(±0) = ±0
//	Sin(±Inf) = NaN
//	Sin(NaN) = NaN
func Sin(x float64) float64 {
	// special cases
	switch {
	case x == 0 || math.IsNaN(x):
		return x // return ±0 || NaN()
	case math.IsInf(x, 0):
		return math.NaN()
	}

	x = float64(x) // an inlined caller's product must not fuse into our sums

	// make argument positive but save the sign
	sign := false
	if x < 0 {
		x = -x
		sign = true
	}

	j, z := reduce(x)
	// reflect in x axis
	if j > 3 {
		sign = !sign
		j -= 4
	}
	var y float64
	zz := float64(z * z)
	if j == 1 || j == 2 {
		y = cosPoly(zz)
	} else {
		y = sinPoly(z, zz)
	}
	if sign {
		y = -y
	}
	return y
}
