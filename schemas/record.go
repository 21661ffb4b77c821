package schemas

// Record is the value of a record topic: a *CivilStatusRecord, an
// *EmploymentRecord or a *ContributionRecord. Every component that handles
// records of any kind (the connectors, the materializer, the notification
// router, reconcile) goes through it and through Rules.Check, so that a
// new record kind is added in one place.
type Record interface {
	// Prov is the record's provenance: its agency, data center, source key
	// and version.
	Prov() *Provenance
	record()
}

// Prov is the record's provenance.
func (r *CivilStatusRecord) Prov() *Provenance { return &r.Provenance }

// Prov is the record's provenance.
func (r *EmploymentRecord) Prov() *Provenance { return &r.Provenance }

// Prov is the record's provenance.
func (r *ContributionRecord) Prov() *Provenance { return &r.Provenance }

func (*CivilStatusRecord) record()  {}
func (*EmploymentRecord) record()   {}
func (*ContributionRecord) record() {}

// Check applies the rules of rec's kind (CivilStatus, Employment or
// Contribution).
func (r Rules) Check(rec Record) Violations {
	switch v := rec.(type) {
	case *CivilStatusRecord:
		return r.CivilStatus(v)
	case *EmploymentRecord:
		return r.Employment(v)
	case *ContributionRecord:
		return r.Contribution(v)
	}
	return Violations{{Code: "entity.unknown", Message: "not a record of a record topic"}}
}
