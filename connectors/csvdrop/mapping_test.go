package csvdrop

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/askonce/askonce/connectors/connector"
	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// rows holds one full row per kind, every column set.
var rows = map[string]map[string]string{
	"birth": {"id": "17", "version": "2", "nin": "109859916000420137", "surname_latin": "BENALI", "surname_arabic": "بن علي",
		"first_names_latin": "Youcef", "first_names_arabic": "يوسف", "marital_surname_latin": "", "sex": "M",
		"birth_date": "1985-03-14", "birth_date_presumed": "false", "birth_commune": "9916", "birth_wilaya": "99",
		"father_first_name_latin": "Ahmed", "father_first_name_arabic": "أحمد", "mother_surname_latin": "SAIDI",
		"mother_first_names_latin": "Fatiha", "mother_surname_arabic": "سعيدي", "mother_first_names_arabic": "فتيحة",
		"father_nin": "109559916001010137", "mother_nin": "209609916002020137",
		"act_number": "42", "act_year": "1985", "act_commune": "9916", "registered_on": "1985-03-16", "birth_time": "08:30:00",
		"marginal_notes": "Marié le 2010-06-01 à 9916|Divorcé le 2015-02-02"},
	"marriage": {"id": "5", "version": "1", "nin": "109859916000420137", "act_number": "310", "act_year": "2010",
		"act_commune": "9916", "marriage_date": "2010-06-01", "spouse_nin": "209889916000510244",
		"spouse_surname_latin": "HADDAD", "spouse_first_names_latin": "Amina", "marginal_notes": ""},
	"divorce": {"id": "9", "version": "3", "nin": "109859916000420137", "spouse_nin": "209889916000510244",
		"divorce_date": "2015-02-02", "court": "Tribunal de Sidi M'Hamed", "judgment_number": "15/00231",
		"marriage_act_number": "310", "marriage_act_year": "2010", "marriage_act_commune": "9916", "marginal_notes": "x"},
	"death": {"id": "3", "version": "1", "nin": "109859916000420137", "act_number": "77", "act_year": "2024",
		"act_commune": "9916", "date_of_death": "2024-01-09", "place_commune": "9916", "marginal_notes": ""},
	"affiliation": {"id": "1", "version": "4", "nin": "109859916000420137", "nss": "1600123456", "fund": "CNAS",
		"start_date": "2007-09-01", "end_date": "2019-12-31", "status": "CLOSED", "regime": "SALARIE"},
	"employment": {"id": "2", "version": "1", "nin": "109859916000420137", "nss": "1600123456", "fund": "CNAS",
		"employer_id": "16E0099", "employer_name": "SARL Atlas, Alger", "employer_nif": "000016001234567",
		"start_date": "2015-01-01", "end_date": "", "status": "OPEN", "position": "Comptable"},
	"contribution": {"id": "8", "version": "1", "subject": "INSURED", "nin": "109859916000420137", "nss": "1600123456",
		"employer_id": "16E0099", "fund": "CNAS", "period": "2025-09", "wage_base": "6500000", "amount_due": "2275000",
		"amount_paid": "2275000", "status": "PAID", "due_date": "2025-10-30", "paid_date": "2025-10-28"},
}

func quote(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// csvOf renders a row as header and line, columns in the kind's order.
func csvOf(k *Kind, vals map[string]string) (hdr, line []string) {
	for _, c := range k.Columns {
		v, ok := vals[c.Name]
		if !ok {
			continue
		}
		hdr = append(hdr, c.Name)
		line = append(line, quote(v))
	}
	return hdr, line
}

// jsonOf is the pgoutbox payload of the same row.
func jsonOf(t *testing.T, k *Kind, vals map[string]string) []byte {
	p := map[string]any{}
	for _, c := range k.Columns {
		v, ok := vals[c.Name]
		if !ok || c.Name == "id" || c.Name == "op" {
			continue
		}
		switch c.Type {
		case tInt, tInt64:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				p[c.Name] = nil
				continue
			}
			p[c.Name] = n
		case tBool:
			p[c.Name] = v == "true"
		case tNotes:
			notes := []string{}
			if v != "" {
				notes = strings.Split(v, "|")
			}
			p[c.Name] = notes
		default:
			if v == "" {
				p[c.Name] = nil
			} else {
				p[c.Name] = v
			}
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mapLine(t *testing.T, k *Kind, hdr, line []string, eventTime time.Time) connector.Record {
	t.Helper()
	h, err := parseHeader(k, hdr)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	fi := &fileInfo{name: k.Name + "-test.csv", hdr: h, origin: schemas.Origin{Agency: "etatcivil", DataCenter: "etatcivil-dc07"},
		eventTime: eventTime, topics: bus.NewTopics(bus.TopicsConfig{})}
	recs := readAll(t, strings.Join(hdr, ",")+"\n"+strings.Join(line, ",")+"\n")
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	return fi.toRecord(recs[1])
}

// TestMappingMatchesPGOutbox: a CSV line and the outbox payload of the same
// row give the same record, key and topic.
func TestMappingMatchesPGOutbox(t *testing.T) {
	topics := bus.NewTopics(bus.TopicsConfig{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) {
			vals := rows[k.Name]
			if len(vals) != len(k.Columns)-1 { // all but op
				t.Fatalf("test row of %s has %d columns, the kind %d", k.Name, len(vals), len(k.Columns)-1)
			}
			hdr, line := csvOf(k, vals)
			got := mapLine(t, k, hdr, line, at)
			want := pgoutbox.Map(pgoutbox.Row{Seq: 1, Entity: k.Name, Key: k.Name + "/" + vals["id"], Op: "upsert",
				Payload: jsonOf(t, k, vals), CreatedAt: at}, schemas.Origin{Agency: "etatcivil", DataCenter: "etatcivil-dc07"}, topics)
			if got.MapErr != nil || want.MapErr != nil {
				t.Fatalf("map errors: csv %v, outbox %v", got.MapErr, want.MapErr)
			}
			if !reflect.DeepEqual(got.Value, want.Value) {
				gj, _ := json.Marshal(got.Value)
				wj, _ := json.Marshal(want.Value)
				t.Fatalf("csv    %s\noutbox %s", gj, wj)
			}
			if string(got.Key) != string(want.Key) || got.Topic != want.Topic {
				t.Fatalf("key %s topic %s, outbox key %s topic %s", got.Key, got.Topic, want.Key, want.Topic)
			}
			if got.Position != k.Name+"-test.csv:2" {
				t.Errorf("position %q", got.Position)
			}
		})
	}
}

func TestMappingErrors(t *testing.T) {
	k := KindOf("contribution-2026.csv")
	at := time.Now()
	for _, tc := range []struct {
		col, val, code string
	}{
		{"wage_base", "65000.00", connector.CodePayloadInvalid},
		{"wage_base", "abc", connector.CodePayloadInvalid},
		{"due_date", "30/10/2025", connector.CodePayloadInvalid},
		{"version", "", schemas.CodeRequired},
		{"version", "v2", connector.CodePayloadInvalid},
		{"id", " ", schemas.CodeRequired},
		{"op", "merge", connector.CodeOpUnknown},
		{"status", strings.Repeat("P", MaxField+1), connector.CodeFieldTooLong},
	} {
		vals := map[string]string{}
		for c, v := range rows["contribution"] {
			vals[c] = v
		}
		vals[tc.col] = tc.val
		hdr, line := csvOf(k, vals)
		rec := mapLine(t, k, hdr, line, at)
		if rec.MapErr == nil || rec.MapErr.Code != tc.code || rec.Value != nil {
			t.Errorf("%s=%.20q: %v, want %s", tc.col, tc.val, rec.MapErr, tc.code)
		}
	}
	// Optional values, case and spaces.
	vals := map[string]string{}
	for c, v := range rows["birth"] {
		vals[c] = v
	}
	vals["birth_date_presumed"], vals["birth_time"], vals["marginal_notes"], vals["nin"] = "YES", "23:05", " a || b |", " 109859916000420137 "
	kb := KindOf("BIRTH-x.CSV")
	hdr, line := csvOf(kb, vals)
	hdr = append(hdr, " OP ")
	line = append(line, "Correction")
	rec := mapLine(t, kb, hdr, line, at)
	if rec.MapErr != nil {
		t.Fatal(rec.MapErr)
	}
	v := rec.Value.(*schemas.CivilStatusRecord)
	if !v.Person.BirthDatePresumed || *v.Birth.BirthTime != 23*time.Hour+5*time.Minute || len(v.Birth.MarginalNotes) != 2 ||
		v.NIN != "109859916000420137" || v.Provenance.Operation != schemas.OpCorrection || v.Provenance.SourceKey != "birth/17" {
		t.Fatalf("%+v %+v %+v", v.Provenance, v.Person, v.Birth)
	}
}

func TestHeader(t *testing.T) {
	k := KindOf("death-2026-01.csv")
	full := []string{"id", "version", "nin", "act_number", "act_year", "act_commune", "date_of_death", "place_commune"}
	if _, err := parseHeader(k, full); err != nil {
		t.Fatal(err)
	}
	if _, err := parseHeader(k, append([]string{" ID"}, full[1:]...)); err != nil {
		t.Fatalf("case and spaces: %v", err)
	}
	for _, tc := range []struct {
		hdr  []string
		want string
	}{
		{full[1:], "missing required column(s) id"},
		{append(full, "plce_commune"), `unknown column(s) "plce_commune"`},
		{append(full, "nin"), "repeated column(s) nin"},
		{append(full, ""), `unknown column(s) ""`},
	} {
		_, err := parseHeader(k, tc.hdr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.hdr, err, tc.want)
		}
	}
	if KindOf("births-2026.csv") != nil || KindOf("birth.csv") != nil || KindOf("x-birth-1.csv") != nil {
		t.Error("KindOf accepts a name that is not <kind>-*")
	}
}
