package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hamba/avro/v2"
	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/registry"
	"github.com/askonce/askonce/internal/wiring"
	"github.com/askonce/askonce/schemas"
)

func (a *app) schemasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schemas",
		Short: "Check, register and list the Avro schemas of the bus topics",
	}
	var dir string
	var against bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Check that every schema version is compatible with its predecessors under its subject's level",
		Long: `Checks each version of each topic schema (schemas/avro/<topic>.vN.avsc) against the versions
before it under the subject's compatibility level (FULL_TRANSITIVE for the record topics).
--dir checks files on disk (before they are committed) instead of the embedded ones;
--against-registry also asks the registry at registry.url whether the newest version may be
registered there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			subs, err := subjectsOf(cfg.Kafka.Topics.Prefix, cfg.Kafka.Topics.Agencies)
			if err != nil {
				return err
			}
			var rc *registry.Client
			if against {
				if rc, err = registry.NewClient(wiring.RegistryClient(cfg.Registry)); err != nil {
					return err
				}
			}
			failed := 0
			for _, ts := range subs {
				s := ts.Subject
				versions := s.Versions
				if dir != "" {
					if versions, err = schemas.VersionsIn(os.DirFS(dir), ".", s.File); err != nil {
						return err
					}
					if len(versions) == 0 {
						return fmt.Errorf("schemas check: no %s.v*.avsc in %s", s.File, dir)
					}
				}
				var parsed []avro.Schema
				before := failed
				for i, text := range versions {
					sch, err := schemas.Parse(text)
					if err != nil {
						fmt.Fprintf(a.stdout, "%s.v%d: INVALID: %v\n", s.File, i+1, err)
						failed++
						continue
					}
					for _, r := range registry.Check(s.Compatibility, sch, parsed) {
						fmt.Fprintf(a.stdout, "%s.v%d: INCOMPATIBLE (%s): %s\n", s.File, i+1, s.Compatibility, r)
						failed++
					}
					parsed = append(parsed, sch)
				}
				status := "ok"
				if failed > before {
					status = "FAILED"
				}
				if rc != nil && failed == before {
					news, accepted := 0, 0
					for _, subject := range ts.subjects {
						ok, reasons, err := rc.Compatible(cmd.Context(), subject, versions[len(versions)-1])
						switch {
						case registry.IsNotFound(err):
							news++
						case err != nil:
							return err
						case !ok:
							failed++
							status = fmt.Sprintf("REFUSED by the registry under %s: %v", subject, reasons)
						default:
							accepted++
						}
					}
					if failed == before {
						if news > 0 {
							status += fmt.Sprintf(", %d new subject(s) in the registry", news)
						}
						if accepted > 0 {
							status += fmt.Sprintf(", accepted by the registry under %d subject(s)", accepted)
						}
					}
				}
				fmt.Fprintf(a.stdout, "%-34s %d version(s), %s: %s\n", ts.label, len(versions), s.Compatibility, status)
			}
			if failed > 0 {
				return fmt.Errorf("schemas check: %d problem(s)", failed)
			}
			return nil
		},
	}
	check.Flags().StringVar(&dir, "dir", "", "directory of .avsc files to check instead of the embedded schemas")
	check.Flags().BoolVar(&against, "against-registry", false, "also check the newest versions against the registry at registry.url")

	register := &cobra.Command{
		Use:   "register",
		Short: "Register every schema version (oldest first) and set each subject's compatibility level",
		Long: `For release pipelines where producers do not register schemas themselves
(registry.auto_register: false): sets each subject's compatibility level and registers its
versions in order at registry.url: the record and audit topics, and the notification and
portfolio topics of every agency of kafka.topics.agencies. Idempotent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd, nil)
			if err != nil {
				return err
			}
			rc, err := registry.NewClient(wiring.RegistryClient(cfg.Registry))
			if err != nil {
				return err
			}
			return registerSchemas(cmd.Context(), rc, cfg.Kafka.Topics.Prefix, cfg.Kafka.Topics.Agencies, a.stdout)
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the topic schemas shipped in this binary",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			subs, err := subjectsOf("", nil)
			if err != nil {
				return err
			}
			for _, ts := range subs {
				s := ts.Subject
				sch, err := schemas.Parse(s.Latest())
				if err != nil {
					return err
				}
				named, ok := sch.(avro.NamedSchema)
				if !ok {
					return errors.New("schemas: a topic schema is not a named record")
				}
				fmt.Fprintf(a.stdout, "%-34s %-45s v%d %s\n", ts.label, named.FullName(), len(s.Versions), s.Compatibility)
			}
			return nil
		},
	}
	cmd.AddCommand(check, register, list)
	return cmd
}

// topicSubject is one schema of the bus and the registry subjects that
// hold it: one for a catalog topic, one per agency for the notification
// and portfolio topics.
type topicSubject struct {
	schemas.Subject
	// label names it in output: askonce.notify.<agency>-value for a
	// per-agency schema.
	label    string
	subjects []string
}

// subjectsOf lists the schemas of the bus with their subjects under prefix
// for agencies: the catalog's topics, then askonce.notify.<agency> and
// askonce.portfolio.<agency> for each agency.
func subjectsOf(prefix string, agencies []string) ([]topicSubject, error) {
	subs, err := schemas.Catalog()
	if err != nil {
		return nil, err
	}
	per, err := schemas.PerAgency()
	if err != nil {
		return nil, err
	}
	var out []topicSubject
	for _, s := range subs {
		out = append(out, topicSubject{s, schemas.Name(s.Topic), []string{schemas.Name(prefix + s.Topic)}})
	}
	for _, s := range per {
		ts := topicSubject{Subject: s, label: schemas.Name(s.Topic + "<agency>")}
		for _, a := range agencies {
			ts.subjects = append(ts.subjects, schemas.Name(prefix+s.Topic+a))
		}
		out = append(out, ts)
	}
	return out, nil
}

// registerSchemas sets the compatibility level of every subject of the bus
// (the catalog's topics, and askonce.notify.<agency> and
// askonce.portfolio.<agency> for each agency) and registers its versions,
// oldest first: what the components look up when they do not register
// schemas themselves.
func registerSchemas(ctx context.Context, rc *registry.Client, prefix string, agencies []string, out io.Writer) error {
	subs, err := subjectsOf(prefix, agencies)
	if err != nil {
		return err
	}
	for _, s := range subs {
		for _, subject := range s.subjects {
			if err := rc.SetLevel(ctx, subject, s.Compatibility); err != nil {
				return fmt.Errorf("set level of %s: %w", subject, err)
			}
			for i, text := range s.Versions {
				id, err := rc.Register(ctx, subject, text)
				if err != nil {
					return fmt.Errorf("register %s v%d: %w", subject, i+1, err)
				}
				fmt.Fprintf(out, "%s v%d: id %d\n", subject, i+1, id)
			}
		}
	}
	return nil
}
