package console

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSVG draws text as a QR code, inline SVG: one path of horizontal runs
// of dark modules (a version-5 code is about 3 KB), crisp at any print
// size, no image request and nothing the CSP has to allow.
func qrSVG(text, label string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("console: QR code: %w", err)
	}
	bm := q.Bitmap() // with the 4-module quiet zone
	n := len(bm)
	var d strings.Builder
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	return template.HTML(fmt.Sprintf( //nolint:gosec // numbers and an escaped label only
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="qr" role="img" aria-label="%s" shape-rendering="crispEdges">`+
			`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		n, n, html.EscapeString(label), n, n, d.String())), nil
}
