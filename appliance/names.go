package appliance

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Names a musician picks: what everyone sees in the list, so it must be visible, must not pass
// for another, and must stay a name rather than a payload.
const (
	MaxNameGraphemes = 32
	MaxNameBytes     = 128
	// maxMarks bounds the combining marks on one character: a handful covers every real script
	// (Vietnamese stacks two or three); "Z" with 31 of them is a smear, not a letter.
	maxMarks = 4
)

// NormalizeName trims a user name and checks it: 1–32 characters as a person counts them
// (graphemes) and at most 128 bytes; at least one visible character; no control characters, bidi
// overrides, line or paragraph separators, or invisible characters (zero-width spaces, fillers,
// tag characters), except the joiner and variation selectors inside an emoji sequence.
func NormalizeName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if !utf8.ValidString(n) || len(n) > MaxNameBytes || !wellFormedName(n) {
		return "", Errorf(EINVALIDNAME, "Names are 1 to %d characters you can see: letters, digits, symbols and emoji.", MaxNameGraphemes)
	}
	return n, nil
}

// nameKey is what two names must differ in: "Ana", "ANA" and "Ａｎａ" are one name.
func nameKey(name string) string {
	return cases.Fold().String(norm.NFKC.String(name))
}

func wellFormedName(n string) bool {
	graphemes, marks, visible := 0, 0, false
	var prev rune = -1
	regional := 0 // regional indicators since the last other rune: flags come in pairs
	for _, r := range n {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return false
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
			if prev < 0 || isIgnorable(prev) {
				return false // a mark needs a character to sit on
			}
			if marks++; marks > maxMarks {
				return false
			}
		case r == zwj:
			if !isPictograph(prev) {
				return false // a joiner only joins emoji
			}
		case unicode.Is(unicode.Variation_Selector, r):
			if prev < 0 || isIgnorable(prev) {
				return false
			}
		case isIgnorable(r):
			return false
		case prev == zwj || isEmojiModifier(r):
			// part of the emoji before it
		case isRegionalIndicator(r):
			if regional++; regional%2 == 1 {
				graphemes++
			}
			visible = true
		default:
			graphemes++
			marks = 0
			if !unicode.IsSpace(r) && !isBlank(r) {
				visible = true
			}
		}
		if !isRegionalIndicator(r) {
			regional = 0
		}
		prev = r
	}
	return visible && graphemes <= MaxNameGraphemes && prev != zwj
}

const zwj = '\u200d'

// isIgnorable reports the characters that render as nothing (Unicode's default-ignorables:
// format characters such as zero-width spaces, the soft hyphen and tag characters, and fillers).
func isIgnorable(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r) || r == '\u3164' || r == '\uffa0' || r == '\u115f' || r == '\u1160'
}

// isBlank reports visible-class characters that draw nothing, such as the blank Braille pattern.
func isBlank(r rune) bool { return r == '\u2800' }

func isPictograph(r rune) bool {
	return unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) || isEmojiModifier(r) || unicode.Is(unicode.Variation_Selector, r)
}

func isEmojiModifier(r rune) bool     { return r >= 0x1F3FB && r <= 0x1F3FF }
func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }
