package schemas

import (
	"errors"
	"regexp"
)

// NIN is a national identification number (numéro d'identification
// national): 18 ASCII digits. Its control key is not published, so a
// real-looking NIN is never refused on a guessed checksum; the record
// rules (Rules.Validate) check more, such as the commune in positions 6-9.
type NIN string

// ErrNINFormat is ParseNIN's error: the text is not 18 ASCII digits.
var ErrNINFormat = errors.New("a NIN is 18 digits")

// ParseNIN checks the format of a NIN.
func ParseNIN(s string) (NIN, error) {
	if !ValidNIN(s) {
		return "", ErrNINFormat
	}
	return NIN(s), nil
}

// ValidNIN reports whether s has the format of a NIN: 18 ASCII digits
// (never other Unicode digits, never surrounding space).
func ValidNIN(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ninsIn finds NINs inside longer text, such as a source key.
var ninsIn = regexp.MustCompile(`[0-9]{18}`)

// MaskNINs replaces every run of 18 digits in s with mask, for text shown
// where a NIN must not be (a log line above debug level, a banner).
func MaskNINs(s, mask string) string { return ninsIn.ReplaceAllString(s, mask) }
