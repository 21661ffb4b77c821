package schemas

import "strings"

// Agencies that publish each kind of record. Functions, not variables: the
// lists are the same for every caller and no caller may change them.

// CivilStatusAgencies publish civil-status records.
func CivilStatusAgencies() []string { return []string{"etatcivil"} }

// FundAgencies (the social-security funds) publish employment and
// contribution records.
func FundAgencies() []string { return []string{"cnas", "casnos", "cacobatph"} }

// DataCenterOf reports whether dc is named as one of agency's data centers
// ("<agency>-..."), so that no agency's records or watermarks can speak for
// another agency's data center.
func DataCenterOf(agency, dc string) bool {
	return agency != "" && strings.HasPrefix(dc, agency+"-") && len(dc) > len(agency)+1
}
