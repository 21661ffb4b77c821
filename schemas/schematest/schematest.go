// Package schematest builds valid records of every kind for tests of the
// packages that encode, decode, store or serve them. Each builder returns a
// fresh record that passes schemas.Rules{AllowSynthetic: true}; tests break
// one field to exercise a rule.
package schematest

import (
	"time"

	"github.com/askonce/askonce/schemas"
)

// Now is the fixed "current time" the builders' records are valid at.
var Now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
func str(s string) *string                     { return &s }

// NIN of the synthetic person the builders describe: register year 1985
// (985), synthetic commune 9916, birth act 00042, series 01, key 37.
const NIN = "109859916000420137"

// SpouseNIN is the synthetic spouse of NIN.
const SpouseNIN = "209879916001230142"

func prov(agency, dc, key string, version int64) schemas.Provenance {
	return schemas.Provenance{
		Agency: agency, DataCenter: dc, SourceKey: key, SourceVersion: version,
		EventTime: Now.Add(-time.Hour).Truncate(time.Millisecond), Operation: schemas.OpUpsert,
	}
}

// Birth is a BIRTH record (identity and birth act) of NIN.
func Birth() *schemas.CivilStatusRecord {
	return &schemas.CivilStatusRecord{
		Provenance: prov("etatcivil", "etatcivil-dc07", "birth/1985/9916/42", 3),
		NIN:        NIN,
		Kind:       schemas.KindBirth,
		Person: &schemas.PersonIdentity{
			SurnameLatin: "BENALI", SurnameArabic: "بن علي",
			FirstNamesLatin: "Youcef Karim", FirstNamesArabic: "يوسف كريم",
			Sex: "M", BirthDate: day(1985, time.March, 14), BirthCommune: "9916", BirthWilaya: "99",
			FatherFirstNameLatin: str("Ahmed"), MotherSurnameLatin: str("SAIDI"), MotherFirstNamesLatin: str("Fatiha"),
		},
		Birth: &schemas.BirthAct{
			ActNumber: 42, ActYear: 1985, ActCommune: "9916", RegisteredOn: day(1985, time.March, 16),
			MarginalNotes: []string{"Marié le 02/07/2012 à 9916 avec 209879916001230142"},
		},
	}
}

// ChildNIN is the synthetic daughter of NIN and SpouseNIN: register year
// 2014, commune 9916, birth act 00007.
const ChildNIN = "200149916000070165"

// ChildBirth is a BIRTH record of ChildNIN whose parents' NINs (schema v2)
// are NIN (father) and SpouseNIN (mother).
func ChildBirth() *schemas.CivilStatusRecord {
	return &schemas.CivilStatusRecord{
		Provenance: prov("etatcivil", "etatcivil-dc07", "birth/2014/9916/7", 1),
		NIN:        ChildNIN,
		Kind:       schemas.KindBirth,
		Person: &schemas.PersonIdentity{
			SurnameLatin: "BENALI", SurnameArabic: "بن علي",
			FirstNamesLatin: "Meriem", FirstNamesArabic: "مريم",
			Sex: "F", BirthDate: day(2014, time.May, 9), BirthCommune: "9916", BirthWilaya: "99",
			FatherFirstNameLatin: str("Youcef"), FatherFirstNameArabic: str("يوسف"),
			MotherSurnameLatin: str("HAMIDI"), MotherFirstNamesLatin: str("Amina"),
			FatherNIN: str(NIN), MotherNIN: str(SpouseNIN),
		},
		Birth: &schemas.BirthAct{
			ActNumber: 7, ActYear: 2014, ActCommune: "9916", RegisteredOn: day(2014, time.May, 11),
			MarginalNotes: []string{},
		},
	}
}

// Marriage is a MARRIAGE record of NIN with SpouseNIN.
func Marriage() *schemas.CivilStatusRecord {
	return &schemas.CivilStatusRecord{
		Provenance: prov("etatcivil", "etatcivil-dc07", "marriage/2012/9916/310/"+NIN, 1),
		NIN:        NIN,
		Kind:       schemas.KindMarriage,
		Marriage: &schemas.MarriageAct{
			ActNumber: 310, ActYear: 2012, ActCommune: "9916", MarriageDate: day(2012, time.July, 2),
			SpouseNIN: SpouseNIN, SpouseSurnameLatin: str("HAMIDI"), MarginalNotes: []string{},
		},
	}
}

// Divorce is a DIVORCE record of NIN from SpouseNIN.
func Divorce() *schemas.CivilStatusRecord {
	n, y := 310, 2012
	return &schemas.CivilStatusRecord{
		Provenance: prov("etatcivil", "etatcivil-dc07", "divorce/2020/"+NIN, 1),
		NIN:        NIN,
		Kind:       schemas.KindDivorce,
		Divorce: &schemas.DivorceAct{
			SpouseNIN: SpouseNIN, DivorceDate: day(2020, time.May, 5), Court: str("Tribunal de Sidi M'Hamed"),
			MarriageActNumber: &n, MarriageActYear: &y, MarriageActCommune: str("9916"), MarginalNotes: []string{},
		},
	}
}

// Death is a DEATH record of NIN.
func Death() *schemas.CivilStatusRecord {
	return &schemas.CivilStatusRecord{
		Provenance: prov("etatcivil", "etatcivil-dc02", "death/2026/9901/77", 1),
		NIN:        NIN,
		Kind:       schemas.KindDeath,
		Death: &schemas.DeathAct{
			ActNumber: 77, ActYear: 2026, ActCommune: "9901", DateOfDeath: day(2026, time.October, 30),
			PlaceCommune: "9901", MarginalNotes: []string{},
		},
	}
}

// Affiliation is an open CNAS affiliation of NIN.
func Affiliation() *schemas.EmploymentRecord {
	return &schemas.EmploymentRecord{
		Provenance: prov("cnas", "cnas-dc01", "aff/1600123456", 2),
		NIN:        NIN, NSS: "1600123456", Fund: schemas.FundCNAS, Kind: schemas.KindAffiliation,
		Affiliation: &schemas.Affiliation{StartDate: day(2007, time.September, 1), Status: "ACTIVE", Regime: str("salarié")},
	}
}

// Employment is a closed employment period of NIN.
func Employment() *schemas.EmploymentRecord {
	end := day(2015, time.December, 31)
	return &schemas.EmploymentRecord{
		Provenance: prov("cnas", "cnas-dc01", "emp/1600123456/16E0099", 5),
		NIN:        NIN, NSS: "1600123456", Fund: schemas.FundCNAS, Kind: schemas.KindEmployment,
		Employment: &schemas.EmploymentPeriod{
			EmployerID: "16E0099", EmployerName: "SARL Atlas Travaux", EmployerNIF: str("000216001234567"),
			StartDate: day(2008, time.January, 1), EndDate: &end, Status: "CLOSED", Position: str("Technicien"),
		},
	}
}

// Contribution is an insured person's partially paid month.
func Contribution() *schemas.ContributionRecord {
	due := day(2026, time.October, 30)
	return &schemas.ContributionRecord{
		Provenance: prov("cnas", "cnas-dc01", "contrib/1600123456/2026-09", 1),
		Subject:    schemas.SubjectInsured, NIN: str(NIN), NSS: str("1600123456"), EmployerID: str("16E0099"),
		Fund: schemas.FundCNAS, Period: "2026-09", WageBase: 6_500_000, AmountDue: 2_275_000, AmountPaid: 1_000_000,
		Status: "PARTIAL", DueDate: &due,
	}
}
