package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
)

// VerificationCode is the code printed on a document beside its id: the
// first 10 bytes (80 bits) of SHA-256 over the document's canonical JSON,
// the signed bytes the store keeps, in base32 as four groups of four
// (ABCD-EFGH-IJKL-MNOP). Whoever holds the paper holds the code; whoever
// has only an id (from a log, say) cannot get the content shown, and a
// paper whose content was altered cannot be matched with a real id's code
// because the page shows the real content to compare.
func VerificationCode(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	s := base32.StdEncoding.EncodeToString(sum[:10]) // 16 characters, no padding
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeCode accepts what a person types: any case, with or without
// dashes and spaces; 0 and 1 read as O and I (base32 has neither digit).
func normalizeCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r == '0':
			b.WriteRune('O')
		case r == '1':
			b.WriteRune('I')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// codeMatches says whether typed is the verification code of canonical.
func codeMatches(canonical []byte, typed string) bool {
	want := normalizeCode(VerificationCode(canonical))
	got := normalizeCode(typed)
	return len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
