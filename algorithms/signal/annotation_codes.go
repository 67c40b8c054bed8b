package signal

// MIT annotation codes used across pulsegrid (from WFDB's ecgcodes.h).
const (
	CodeNormal    = 1  // N
	CodeLBBB      = 2  // L
	CodeRBBB      = 3  // R
	CodeAberrated = 4  // a
	CodePVC       = 5  // V
	CodeFusion    = 6  // F
	CodeNPC       = 7  // J
	CodeAPC       = 8  // A
	CodeSVPB      = 9  // S
	CodeVEsc      = 10 // E
	CodeNEsc      = 11 // j
	CodePaced     = 12 // /
	CodeUnknown   = 13 // Q
	CodeNoise     = 14 // ~
	CodeArtifact  = 16 // |
	CodeRhythm    = 28 // + (aux holds the rhythm)
	CodeVFOn      = 32 // [
	CodeVFOff     = 33 // ]
	CodeAESC      = 34 // e
	CodeSVESC     = 35 // n
	CodeLearn     = 30 // ?
	CodePFUS      = 38 // f
	CodeRonT      = 41 // r
	CodeNote      = 22 // "
	CodeBBB       = 25 // B
	CodeNAPC      = 37 // x (non-conducted P wave)
	CodeVFlutter  = 31 // !
)

// IsQRS reports whether an MIT annotation code denotes a beat, as WFDB's
// isqrs() does (codes 1–13, 25, 30, 31, 34, 35, 38, 41).
func IsQRS(code int) bool {
	switch {
	case code >= 1 && code <= 13:
		return true
	}
	switch code {
	case 25, 30, 31, 34, 35, 38, 41:
		return true
	}
	return false
}

var mnemonics = map[int]string{
	1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E",
	11: "j", 12: "/", 13: "Q", 14: "~", 16: "|", 18: "s", 19: "T", 20: "*", 21: "D",
	22: "\"", 23: "=", 24: "p", 25: "B", 26: "^", 27: "t", 28: "+", 29: "u", 30: "?",
	31: "!", 32: "[", 33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f", 39: "(",
	40: ")", 41: "r",
}

// Mnemonic returns the one-letter WFDB mnemonic of an annotation code.
func Mnemonic(code int) string {
	if m, ok := mnemonics[code]; ok {
		return m
	}
	return "?"
}
