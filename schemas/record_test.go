package schemas

import "testing"

// TestCheckIsEachKindsRules: Rules.Check gives each record kind its own
// rules, and the provenance it reports is the record's own.
func TestCheckIsEachKindsRules(t *testing.T) {
	var r Rules
	recs := []struct {
		rec  Record
		want Violations
	}{
		{&CivilStatusRecord{}, r.CivilStatus(&CivilStatusRecord{})},
		{&EmploymentRecord{}, r.Employment(&EmploymentRecord{})},
		{&ContributionRecord{}, r.Contribution(&ContributionRecord{})},
	}
	for _, c := range recs {
		got := r.Check(c.rec)
		if len(got) == 0 || got.Error() != c.want.Error() {
			t.Errorf("%T: Check = %v, want %v", c.rec, got, c.want)
		}
		c.rec.Prov().SourceKey = "k/1"
		if c.rec.Prov().SourceKey != "k/1" {
			t.Errorf("%T: Prov is not the record's provenance", c.rec)
		}
	}
	if got := r.Check(nil); len(got) != 1 || got[0].Code != "entity.unknown" {
		t.Errorf("Check(nil) = %v", got)
	}
}
