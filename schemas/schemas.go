// Package schemas holds the Avro schemas of the bus topics (avro/*.avsc,
// one file per topic and version, embedded in the binary), their Go types,
// and the validation rules that go beyond Avro types (NIN structure, dates,
// periods, amounts). Connectors encode with them, the materializer decodes
// with them, and the registry is seeded with them under the subjects
// <topic>-value.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

//go:embed avro/*.avsc
var files embed.FS

// Subject is the value schema of one record topic, with every version
// shipped in avro/ (oldest first) and the compatibility mode its evolution
// must respect.
type Subject struct {
	// Topic is the base topic name (without a configured prefix).
	Topic string
	// File is the base file name: avro/<File>.v<N>.avsc.
	File string
	// Compatibility is the registry mode for the subject. FULL_TRANSITIVE:
	// agencies' consumers upgrade on their own schedule, so every version
	// must read every other.
	Compatibility string
	// Versions are the schema texts, oldest first.
	Versions []string
}

// Latest is the newest schema text.
func (s Subject) Latest() string { return s.Versions[len(s.Versions)-1] }

// Name is the registry subject for a topic name (TopicNameStrategy).
func Name(topic string) string { return topic + "-value" }

// Catalog lists the subjects of the record topics, then of the audit
// topic (the mirror of the lookup API's audit log), in a fixed order. The
// notification topics and the portfolio topics, one of each per agency,
// share one schema each: see NotificationSubject and PortfolioSubject.
func Catalog() ([]Subject, error) {
	subs := []Subject{
		{Topic: "askonce.civil-status.v1", File: "civil-status", Compatibility: "FULL_TRANSITIVE"},
		{Topic: "askonce.employment.v1", File: "employment", Compatibility: "FULL_TRANSITIVE"},
		{Topic: "askonce.contribution.v1", File: "contribution", Compatibility: "FULL_TRANSITIVE"},
		{Topic: "askonce.audit.v1", File: "audit", Compatibility: "FULL_TRANSITIVE"},
	}
	if err := load(subs); err != nil {
		return nil, err
	}
	return subs, nil
}

// NotifyTopicPrefix starts the name of every agency's notification topic:
// askonce.notify.<agency>.
const NotifyTopicPrefix = "askonce.notify."

// NotificationSubject is the subject template of the notification topics
// askonce.notify.<agency>: every agency's topic has its own subject
// (<topic>-value, TopicNameStrategy) holding this same schema. Topic is the
// prefix; the router registers one subject per configured agency.
func NotificationSubject() (Subject, error) {
	subs := []Subject{{Topic: NotifyTopicPrefix, File: "notification", Compatibility: "FULL_TRANSITIVE"}}
	if err := load(subs); err != nil {
		return Subject{}, err
	}
	return subs[0], nil
}

// PortfolioTopicPrefix starts the name of every agency's portfolio topic,
// askonce.portfolio.<agency>, where its back office declares the citizens
// it serves.
const PortfolioTopicPrefix = "askonce.portfolio."

// PortfolioSubject is the subject template of the portfolio topics
// askonce.portfolio.<agency>, as NotificationSubject is of the
// notification topics: one subject per configured agency's topic, all
// holding this schema. Topic is the prefix.
func PortfolioSubject() (Subject, error) {
	subs := []Subject{{Topic: PortfolioTopicPrefix, File: "portfolio", Compatibility: "FULL_TRANSITIVE"}}
	if err := load(subs); err != nil {
		return Subject{}, err
	}
	return subs[0], nil
}

// PerAgency lists the subject templates with one subject per agency (the
// notification and portfolio topics): Topic is the prefix the agency's
// name completes.
func PerAgency() ([]Subject, error) {
	n, err := NotificationSubject()
	if err != nil {
		return nil, err
	}
	p, err := PortfolioSubject()
	if err != nil {
		return nil, err
	}
	return []Subject{n, p}, nil
}

// load fills the versions of subs from the embedded files.
func load(subs []Subject) error {
	for i := range subs {
		v, err := versions(files, "avro", subs[i].File)
		if err != nil {
			return err
		}
		if len(v) == 0 {
			return fmt.Errorf("schemas: no avro/%s.v*.avsc", subs[i].File)
		}
		subs[i].Versions = v
	}
	return nil
}

var versionFile = regexp.MustCompile(`^(.+)\.v(\d+)\.avsc$`)

// versions reads dir/<base>.v<N>.avsc for N = 1, 2, ... and fails on a gap.
func versions(fsys fs.FS, dir, base string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	byN := map[int]string{}
	for _, e := range entries {
		m := versionFile.FindStringSubmatch(e.Name())
		if m == nil || m[1] != base {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schemas: %w", err)
		}
		byN[n] = string(b)
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	out := make([]string, 0, len(ns))
	for i, n := range ns {
		if n != i+1 {
			return nil, fmt.Errorf("schemas: %s.v%d.avsc is missing (versions must be 1, 2, 3, ...)", base, i+1)
		}
		out = append(out, byN[n])
	}
	return out, nil
}

// VersionsIn reads the versions of base from another directory tree; the
// schemas check uses it on candidate schemas before they are committed.
func VersionsIn(fsys fs.FS, dir, base string) ([]string, error) { return versions(fsys, dir, base) }

// Parse parses an Avro schema with a cache of its own. hamba/avro's default
// cache is global and keyed by name, so two versions of one record would
// collide in it; every askonce parse goes through here instead.
func Parse(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("schemas: parse: %w", err)
	}
	return s, nil
}

// MustLatest returns the parsed latest schema of the subject of topic base
// name; it panics on an unknown topic or an unparsable embedded schema,
// which are programming errors caught by the package tests.
func MustLatest(topic string) avro.Schema {
	subs, err := Catalog()
	if err != nil {
		panic(err)
	}
	for _, s := range subs {
		if s.Topic == strings.TrimSpace(topic) {
			sch, err := Parse(s.Latest())
			if err != nil {
				panic(err)
			}
			return sch
		}
	}
	panic("schemas: no subject for topic " + topic)
}

// LatestText returns the latest schema text of the subject of topic base
// name, or an error for an unknown topic.
func LatestText(topic string) (string, error) {
	subs, err := Catalog()
	if err != nil {
		return "", err
	}
	for _, s := range subs {
		if s.Topic == topic {
			return s.Latest(), nil
		}
	}
	return "", fmt.Errorf("schemas: no subject for topic %s", topic)
}
