package pgoutbox_test

import (
	"testing"
	"time"

	"github.com/askonce/askonce/connectors/pgoutbox"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// BenchmarkMap is the connector's per-row mapping (JSON payload to the
// record for its topic): the largest share of a connector's CPU.
func BenchmarkMap(b *testing.B) {
	row := pgoutbox.Row{Seq: 42, Entity: "birth", Key: "109991234500012345", Op: "upsert", CreatedAt: time.Now(),
		Payload: []byte(`{"version": 3, "nin": "109991234500012345", "surname_latin": "BENALI", "surname_arabic": "بن علي", ` +
			`"first_names_latin": "Amina Yasmine", "first_names_arabic": "أمينة ياسمين", "marital_surname_latin": null, "sex": "F", ` +
			`"birth_date": "1991-04-17", "birth_date_presumed": false, "birth_commune": "1601", "birth_wilaya": "16", ` +
			`"father_first_name_latin": "Mohamed", "father_first_name_arabic": "محمد", "mother_surname_latin": "HADDAD", ` +
			`"mother_first_names_latin": "Fatima", "mother_surname_arabic": "حداد", "mother_first_names_arabic": "فاطمة", ` +
			`"father_nin": null, "mother_nin": null, "act_number": 1234, "act_year": 1991, "act_commune": "1601", ` +
			`"registered_on": "1991-04-20", "birth_time": "08:30:00", "marginal_notes": []}`)}
	src := schemas.Origin{Agency: "etatcivil", DataCenter: "etatcivil-dc01"}
	topics := bus.NewTopics(bus.TopicsConfig{})
	b.ReportAllocs()
	for b.Loop() {
		if r := pgoutbox.Map(row, src, topics); r.MapErr != nil {
			b.Fatal(r.MapErr)
		}
	}
}
