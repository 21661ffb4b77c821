package bench_test

import (
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
	"github.com/askonce/askonce/schemas/schematest"
)

// Micro benchmarks of the record types: Avro (hamba/avro, the bus's wire
// format, Confluent framing included) against encoding/json. Names are
// benchstat-friendly: BenchmarkEncode/<record>/<codec>.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/bench/

type recordCase struct {
	name  string
	topic string
	value func() any
	zero  func() any
}

var recordCases = []recordCase{
	{"birth", bus.BaseCivilStatus, func() any { return schematest.Birth() }, func() any { return new(schemas.CivilStatusRecord) }},
	{"marriage", bus.BaseCivilStatus, func() any { return schematest.Marriage() }, func() any { return new(schemas.CivilStatusRecord) }},
	{"divorce", bus.BaseCivilStatus, func() any { return schematest.Divorce() }, func() any { return new(schemas.CivilStatusRecord) }},
	{"death", bus.BaseCivilStatus, func() any { return schematest.Death() }, func() any { return new(schemas.CivilStatusRecord) }},
	{"affiliation", bus.BaseEmployment, func() any { return schematest.Affiliation() }, func() any { return new(schemas.EmploymentRecord) }},
	{"employment", bus.BaseEmployment, func() any { return schematest.Employment() }, func() any { return new(schemas.EmploymentRecord) }},
	{"contribution", bus.BaseContribution, func() any { return schematest.Contribution() }, func() any { return new(schemas.ContributionRecord) }},
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range recordCases {
		sch := schemas.MustLatest(c.topic)
		v := c.value()
		b.Run(c.name+"/avro", func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				body, err := avro.Marshal(sch, v)
				if err != nil {
					b.Fatal(err)
				}
				msg := append(bus.AppendFrame(make([]byte, 0, 5+len(body)), 1), body...)
				n = len(msg)
			}
			b.ReportMetric(float64(n), "bytes/record")
		})
		b.Run(c.name+"/json", func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				msg, err := json.Marshal(v)
				if err != nil {
					b.Fatal(err)
				}
				n = len(msg)
			}
			b.ReportMetric(float64(n), "bytes/record")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range recordCases {
		sch := schemas.MustLatest(c.topic)
		v := c.value()
		body, err := avro.Marshal(sch, v)
		if err != nil {
			b.Fatal(err)
		}
		msg := append(bus.AppendFrame(nil, 1), body...)
		js, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/avro", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, payload, err := bus.Unframe(msg)
				if err != nil {
					b.Fatal(err)
				}
				if err := avro.Unmarshal(sch, payload, c.zero()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := json.Unmarshal(js, c.zero()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
