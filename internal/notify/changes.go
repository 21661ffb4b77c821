package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/askonce/askonce/schemas"
)

// change is one change of interest found in a record: something happened
// to the citizen nin.
type change struct {
	nin      string
	kind     string
	occurred time.Time
	details  *schemas.ChangeDetails
	prov     schemas.Provenance
}

// facts is a digest of what a notification of c tells: a newer version of
// a record with the same facts has nothing new to tell.
func (c change) facts() string {
	b, _ := json.Marshal(struct {
		O string                 `json:"o"`
		D *schemas.ChangeDetails `json:"d"`
	}{c.occurred.UTC().Format(time.DateOnly), c.details})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// NotificationID is the stable id of the notification of a change to an
// agency: the same source record version, kind and citizen always give
// the same id, so consumers deduplicate replays by id.
func NotificationID(agency, dataCenter, sourceKey string, version int64, kind, nin string) string {
	h := sha256.New()
	for _, s := range []string{agency, dataCenter, sourceKey, strconv.FormatInt(version, 10), kind, nin} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "ntf_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// lastDuePeriod is the last month whose contributions are due at now (the
// month before), as the contribution-status document decides.
func lastDuePeriod(now time.Time) string {
	y, m, _ := now.UTC().Date()
	return time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

func str(s string) *string { return &s }

// changesOf lists the changes of interest in a decoded, valid record. A
// withdrawn record (DELETE) notifies nothing: the agency asks the lookup
// API when in doubt.
func changesOf(v any, now time.Time) []change {
	switch r := v.(type) {
	case *schemas.CivilStatusRecord:
		p := r.Provenance
		if p.Operation == schemas.OpDelete {
			return nil
		}
		switch {
		case r.Kind == schemas.KindDeath && r.Death != nil:
			return []change{{nin: r.NIN, kind: schemas.ChangeDeath, occurred: r.Death.DateOfDeath, prov: p}}
		case r.Kind == schemas.KindMarriage && r.Marriage != nil:
			return []change{{nin: r.NIN, kind: schemas.ChangeMarriage, occurred: r.Marriage.MarriageDate, prov: p,
				details: &schemas.ChangeDetails{RelatedNIN: nonEmpty(r.Marriage.SpouseNIN)}}}
		case r.Kind == schemas.KindDivorce && r.Divorce != nil:
			return []change{{nin: r.NIN, kind: schemas.ChangeDivorce, occurred: r.Divorce.DivorceDate, prov: p,
				details: &schemas.ChangeDetails{RelatedNIN: nonEmpty(r.Divorce.SpouseNIN)}}}
		case r.Kind == schemas.KindBirth && r.Person != nil:
			var out []change
			for _, parent := range []*string{r.Person.FatherNIN, r.Person.MotherNIN} {
				if parent != nil && *parent != "" && *parent != r.NIN {
					out = append(out, change{nin: *parent, kind: schemas.ChangeBirthOfChild, occurred: r.Person.BirthDate, prov: p,
						details: &schemas.ChangeDetails{RelatedNIN: str(r.NIN)}})
				}
			}
			return out
		}
	case *schemas.EmploymentRecord:
		p := r.Provenance
		if p.Operation == schemas.OpDelete || r.Kind != schemas.KindEmployment || r.Employment == nil {
			return nil
		}
		d := &schemas.ChangeDetails{Fund: str(r.Fund), EmployerID: str(r.Employment.EmployerID)}
		out := []change{{nin: r.NIN, kind: schemas.ChangeEmploymentStart, occurred: r.Employment.StartDate, prov: p, details: d}}
		if r.Employment.EndDate != nil {
			out = append(out, change{nin: r.NIN, kind: schemas.ChangeEmploymentEnd, occurred: *r.Employment.EndDate, prov: p, details: d})
		}
		return out
	case *schemas.ContributionRecord:
		p := r.Provenance
		if p.Operation == schemas.OpDelete || r.Subject != schemas.SubjectInsured || r.NIN == nil {
			return nil
		}
		if (r.Status != "UNPAID" && r.Status != "PARTIAL") || r.Period >= lastDuePeriod(now) {
			return nil
		}
		occurred, err := time.Parse("2006-01", r.Period)
		if err != nil {
			return nil
		}
		if r.DueDate != nil {
			occurred = *r.DueDate
		}
		out := r.AmountDue - r.AmountPaid
		return []change{{nin: *r.NIN, kind: schemas.ChangeContributionArrears, occurred: occurred, prov: p,
			details: &schemas.ChangeDetails{Fund: str(r.Fund), Period: str(r.Period), AmountOutstanding: &out}}}
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
