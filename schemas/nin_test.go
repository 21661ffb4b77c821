package schemas

import (
	"regexp"
	"testing"
)

var eighteenDigits = regexp.MustCompile(`^[0-9]{18}$`)

// FuzzParseNIN: a NIN is accepted exactly when it is 18 ASCII digits.
func FuzzParseNIN(f *testing.F) {
	for _, s := range []string{"109859916000420137", "", "12345", "10985991600042013X", "１０９８５９９１６０００４２０１３７", "109859916000420137\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNIN(s)
		if (err == nil) != eighteenDigits.MatchString(s) {
			t.Fatalf("ParseNIN(%q) = %v", s, err)
		}
		if err == nil && (len(s) != 18 || string(n) != s) {
			t.Fatalf("accepted %q as %q", s, n)
		}
	})
}

func TestMaskNINs(t *testing.T) {
	for in, want := range map[string]string{
		"civil/109859916000420137/birth": "civil/<NIN>/birth",
		"12345":                          "12345",
		"1098599160004201371234":         "<NIN>1234",
	} {
		if got := MaskNINs(in, "<NIN>"); got != want {
			t.Errorf("MaskNINs(%q) = %q, want %q", in, got, want)
		}
	}
}
