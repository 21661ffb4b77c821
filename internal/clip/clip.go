// Package clip shortens untrusted text before it goes into a log line, a
// problem's detail or the audit log: a NIN field of a megabyte must not
// become a megabyte of log, and a cut must never leave half a UTF-8
// character (PostgreSQL refuses invalid UTF-8, and a reader sees U+FFFD).
package clip

import "unicode/utf8"

// To returns the longest prefix of s of at most n bytes that does not end
// inside a UTF-8 character. Text that is not valid UTF-8 is cut at n bytes
// when no character boundary lies within utf8.UTFMax bytes before it.
func To(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for cut := n; cut >= 0 && cut > n-utf8.UTFMax; cut-- {
		if utf8.RuneStart(s[cut]) {
			return s[:cut]
		}
	}
	return s[:n]
}

// Mark returns s when it is at most n bytes long, else To(s, n) followed
// by mark (such as "..."), so that a reader sees the text was cut.
func Mark(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	return To(s, n) + mark
}

// Field is Mark(s, 64, "..."): what an API quotes back of a field a caller
// sent (an unknown purpose, a clerk id), or audits of it.
func Field(s string) string { return Mark(s, 64, "...") }
