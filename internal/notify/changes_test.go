package notify

import (
	"testing"
	"time"

	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

func TestChangesOf(t *testing.T) {
	now := time.Date(2026, time.November, 25, 12, 0, 0, 0, time.UTC) // last due period: 2026-10
	deleted := schematest.Death()
	deleted.Provenance.Operation = schemas.OpDelete
	current := schematest.Contribution()
	current.Period = "2026-10"
	paid := schematest.Contribution()
	paid.Status, paid.AmountPaid = "PAID", paid.AmountDue
	openJob := schematest.Employment()
	openJob.Employment.EndDate, openJob.Employment.Status = nil, "OPEN"
	cases := []struct {
		name string
		rec  any
		want []string // "kind nin related"
	}{
		{"death", schematest.Death(), []string{"DEATH " + schematest.NIN + " "}},
		{"withdrawn death", deleted, nil},
		{"marriage", schematest.Marriage(), []string{"MARRIAGE " + schematest.NIN + " " + schematest.SpouseNIN}},
		{"divorce", schematest.Divorce(), []string{"DIVORCE " + schematest.NIN + " " + schematest.SpouseNIN}},
		{"birth: each parent", schematest.ChildBirth(), []string{
			"BIRTH_OF_CHILD " + schematest.NIN + " " + schematest.ChildNIN,
			"BIRTH_OF_CHILD " + schematest.SpouseNIN + " " + schematest.ChildNIN}},
		{"birth without parents' NINs", schematest.Birth(), nil},
		{"closed employment", schematest.Employment(), []string{"EMPLOYMENT_START " + schematest.NIN + " ", "EMPLOYMENT_END " + schematest.NIN + " "}},
		{"open employment", openJob, []string{"EMPLOYMENT_START " + schematest.NIN + " "}},
		{"affiliation", schematest.Affiliation(), nil},
		{"arrears", schematest.Contribution(), []string{"CONTRIBUTION_ARREARS " + schematest.NIN + " "}},
		{"last due month: not yet arrears", current, nil},
		{"paid", paid, nil},
	}
	for _, tc := range cases {
		var got []string
		for _, c := range changesOf(tc.rec, now) {
			rel := ""
			if c.details != nil && c.details.RelatedNIN != nil {
				rel = *c.details.RelatedNIN
			}
			got = append(got, c.kind+" "+c.nin+" "+rel)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
	}
	arrears := changesOf(schematest.Contribution(), now)[0]
	if *arrears.details.AmountOutstanding != 1_275_000 || *arrears.details.Period != "2026-09" || arrears.occurred.Format(time.DateOnly) != "2026-10-30" {
		t.Errorf("arrears details: %+v", arrears)
	}
}

func TestNotificationIDStable(t *testing.T) {
	a := NotificationID("cnr", "etatcivil-dc01", "death/1", 1, "DEATH", "109509916000010137")
	if a != NotificationID("cnr", "etatcivil-dc01", "death/1", 1, "DEATH", "109509916000010137") {
		t.Fatal("id not deterministic")
	}
	for _, b := range []string{
		NotificationID("cnas", "etatcivil-dc01", "death/1", 1, "DEATH", "109509916000010137"),
		NotificationID("cnr", "etatcivil-dc01", "death/1", 2, "DEATH", "109509916000010137"),
		NotificationID("cnr", "etatcivil-dc0", "1death/1", 1, "DEATH", "109509916000010137"),
	} {
		if a == b {
			t.Errorf("ids collide: %s", a)
		}
	}
}
