package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTo(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		want    string
	}{
		{"short", "abc", 64, "abc"},
		{"exact", "abcd", 4, "abcd"},
		{"ascii", "abcdef", 4, "abcd"},
		{"zero", "abc", 0, ""},
		{"arabic", "محمد", 3, "م"},           // 2-byte letters: the second would be cut
		{"arabic boundary", "محمد", 4, "مح"}, // ends on a boundary
		{"emoji", "a😀b", 3, "a"},             // 4-byte character
		{"emoji whole", "a😀b", 5, "a😀"},
		{"cjk", "日本語", 5, "日"},
		{"invalid", "\xff\xff\xff\xff\xff\xff", 4, "\xff\xff\xff\xff"},
		{"continuation run", "a\x80\x80\x80\x80\x80", 5, "a\x80\x80\x80\x80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := To(tc.s, tc.n)
			if got != tc.want {
				t.Fatalf("To(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if len(got) > tc.n && tc.n >= 0 {
				t.Fatalf("To(%q, %d) is %d bytes", tc.s, tc.n, len(got))
			}
		})
	}
}

func TestToNeverCutsACharacter(t *testing.T) {
	s := strings.Repeat("é日😀a", 40)
	for n := 0; n <= len(s); n++ {
		got := To(s, n)
		if !utf8.ValidString(got) || !strings.HasPrefix(s, got) || len(got) > n || n-len(got) >= utf8.UTFMax {
			t.Fatalf("To(s, %d) = %q", n, got)
		}
	}
}

func TestMark(t *testing.T) {
	long := strings.Repeat("ش", 40) // 80 bytes
	if got := Mark(long, 64, "..."); got != strings.Repeat("ش", 32)+"..." {
		t.Fatalf("Mark = %q", got)
	}
	if got := Mark("short", 64, "..."); got != "short" {
		t.Fatalf("Mark = %q", got)
	}
	if got := Mark(strings.Repeat("x", 64), 64, "..."); got != strings.Repeat("x", 64) {
		t.Fatalf("Mark of exactly 64 bytes = %q", got)
	}
}
