package schemas_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/askonce/askonce/schemas"
)

func TestNotificationSchema(t *testing.T) {
	sub, err := schemas.NotificationSubject()
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schemas.Parse(sub.Latest())
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "notification", sch.(*avro.RecordSchema), reflect.TypeOf(schemas.Notification{}))
	psub, err := schemas.PortfolioSubject()
	if err != nil {
		t.Fatal(err)
	}
	psch, err := schemas.Parse(psub.Latest())
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "portfolio", psch.(*avro.RecordSchema), reflect.TypeOf(schemas.PortfolioChange{}))

	related, amount := "109859916000120137", int64(1200)
	in := schemas.Notification{ID: "ntf_1", Agency: "cnr", NIN: "109609916000010137", Kind: schemas.ChangeMarriage,
		OccurredOn: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC), Correction: true, Purpose: "pension-death-watch",
		Provenance: schemas.Provenance{Agency: "etatcivil", DataCenter: "etatcivil-dc01", SourceKey: "m/1", SourceVersion: 2,
			EventTime: time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC), Operation: schemas.OpCorrection},
		Details:    &schemas.ChangeDetails{RelatedNIN: &related, AmountOutstanding: &amount},
		NotifiedAt: time.Date(2026, 5, 3, 10, 0, 1, 0, time.UTC)}
	api := avro.Config{}.Freeze()
	b, err := api.Marshal(sch, in)
	if err != nil {
		t.Fatal(err)
	}
	var out schemas.Notification
	if err := api.Unmarshal(sch, b, &out); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(in)
	got, _ := json.Marshal(out)
	if string(want) != string(got) {
		t.Errorf("round trip:\n got %s\nwant %s", got, want)
	}

	// Every field documented, as for the catalog's subjects.
	var root map[string]any
	_ = json.Unmarshal([]byte(sub.Latest()), &root)
	for _, f := range root["fields"].([]any) {
		if d, _ := f.(map[string]any)["doc"].(string); d == "" {
			t.Errorf("notification field %v has no doc", f.(map[string]any)["name"])
		}
	}
}
