package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/schemas"
)

// Base names of the bus topics (docs/architecture.md lists them). The
// configured prefix is prepended to each.
const (
	BaseCivilStatus  = "askonce.civil-status.v1"
	BaseEmployment   = "askonce.employment.v1"
	BaseContribution = "askonce.contribution.v1"
	BaseDLQ          = "askonce.dlq.v1"
	BaseAudit        = "askonce.audit.v1"
	BaseNotifyPrefix = schemas.NotifyTopicPrefix
	// BasePortfolioPrefix starts every agency's portfolio topic,
	// askonce.portfolio.<agency>.
	BasePortfolioPrefix = schemas.PortfolioTopicPrefix
)

// Topics are the topic names in use, prefix included.
type Topics struct {
	CivilStatus  string
	Employment   string
	Contribution string
	DLQ          string
	Audit        string
	prefix       string
	cfg          TopicsConfig
}

// NewTopics names the topics of a configuration.
func NewTopics(cfg TopicsConfig) Topics {
	p := cfg.Prefix
	return Topics{
		CivilStatus:  p + BaseCivilStatus,
		Employment:   p + BaseEmployment,
		Contribution: p + BaseContribution,
		DLQ:          p + BaseDLQ,
		Audit:        p + BaseAudit,
		prefix:       p,
		cfg:          cfg,
	}
}

// Records are the three record topics, in a fixed order.
func (t Topics) Records() []string { return []string{t.CivilStatus, t.Employment, t.Contribution} }

// Notify is the notification topic of an agency.
func (t Topics) Notify(agency string) string { return t.prefix + BaseNotifyPrefix + agency }

// Prefix is what every askonce topic name starts with: the configured
// prefix and "askonce.".
func (t Topics) Prefix() string { return t.prefix + "askonce." }

// NotifyPrefix is what every agency's notification topic starts with.
func (t Topics) NotifyPrefix() string { return t.prefix + BaseNotifyPrefix }

// PortfolioPrefix is what every agency's portfolio topic starts with.
func (t Topics) PortfolioPrefix() string { return t.prefix + BasePortfolioPrefix }

// AgencyPortfolio is the topic where an agency's back office declares the
// citizens it serves: only that agency may write it, so the router knows
// the writer from the topic.
func (t Topics) AgencyPortfolio(agency string) string { return t.prefix + BasePortfolioPrefix + agency }

// Spec is the wanted shape of one topic.
type Spec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	// Configs are Kafka topic configs (retention.ms, cleanup.policy, ...).
	Configs map[string]string
}

// Specs lists every topic askonce needs, with partitions and retention from
// configuration.
func (t Topics) Specs() []Spec {
	c := t.cfg
	spec := func(name string, parts int, retention int64) Spec {
		s := Spec{
			Name:              name,
			Partitions:        parts,
			ReplicationFactor: c.ReplicationFactor,
			Configs: map[string]string{
				"cleanup.policy": "delete",
				"retention.ms":   strconv.FormatInt(retention, 10),
			},
		}
		if c.ReplicationFactor >= 3 {
			// An acknowledged record is on two replicas before it counts.
			s.Configs["min.insync.replicas"] = "2"
		}
		return s
	}
	ms := func(d interface{ Milliseconds() int64 }) int64 {
		if v := d.Milliseconds(); v > 0 {
			return v
		}
		return -1 // keep forever
	}
	specs := []Spec{
		spec(t.CivilStatus, c.RecordPartitions, ms(c.RecordRetention)),
		spec(t.Employment, c.RecordPartitions, ms(c.RecordRetention)),
		spec(t.Contribution, c.RecordPartitions, ms(c.RecordRetention)),
		spec(t.DLQ, c.DLQPartitions, ms(c.DLQRetention)),
		spec(t.Audit, c.AuditPartitions, ms(c.AuditRetention)),
	}
	for _, a := range c.Agencies {
		specs = append(specs, spec(t.Notify(a), c.NotifyPartitions, ms(c.NotifyRetention)))
	}
	for _, a := range c.Agencies {
		// Portfolio changes are few and small; kept forever so that a
		// rebuilt router (or an audit) can read every change again.
		specs = append(specs, spec(t.AgencyPortfolio(a), c.NotifyPartitions, -1))
	}
	return specs
}

// EnsureResult says what EnsureTopics found and did.
type EnsureResult struct {
	Created []string
	Existed []string
}

// EnsureTopics creates the topics of specs that the cluster lacks. Existing
// topics are left as they are (a topic with fewer partitions than wanted is
// reported in the log, not changed: adding partitions moves keys between
// partitions and breaks per-citizen ordering, so it is an operator's call).
// Safe to run from several instances at once.
func (c *Client) EnsureTopics(ctx context.Context, specs []Spec, log *slog.Logger) (EnsureResult, error) {
	var res EnsureResult
	existing, err := c.ListTopics(ctx)
	if err != nil {
		return res, err
	}
	var missing []kafka.TopicConfig
	for _, s := range specs {
		if parts, ok := existing[s.Name]; ok {
			res.Existed = append(res.Existed, s.Name)
			if parts < s.Partitions && log != nil {
				log.Warn("topic has fewer partitions than configured; not changed", "topic", s.Name, "partitions", parts, "configured", s.Partitions)
			}
			continue
		}
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
		keys := make([]string, 0, len(s.Configs))
		for k := range s.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: s.Configs[k]})
		}
		missing = append(missing, tc)
	}
	if len(missing) == 0 {
		return res, nil
	}
	resp, err := c.admin.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: missing})
	if err != nil {
		return res, fmt.Errorf("bus: create topics: %w", err)
	}
	var errs []error
	for _, tc := range missing {
		switch e := resp.Errors[tc.Topic]; {
		case e == nil:
			res.Created = append(res.Created, tc.Topic)
			if log != nil {
				log.Info("topic created", "topic", tc.Topic, "partitions", tc.NumPartitions, "replication_factor", tc.ReplicationFactor)
			}
		case errors.Is(e, kafka.TopicAlreadyExists):
			res.Existed = append(res.Existed, tc.Topic)
		case errors.Is(e, kafka.TopicAuthorizationFailed):
			errs = append(errs, fmt.Errorf("bus: create topic %s: %w (this principal may not create topics: "+
				"set kafka.topics.create_on_start to false and create them as askonce-release with askonce topics ensure)", tc.Topic, e))
		default:
			errs = append(errs, fmt.Errorf("bus: create topic %s: %w", tc.Topic, e))
		}
	}
	return res, errors.Join(errs...)
}

// ListTopics returns every topic of the cluster with its partition count.
func (c *Client) ListTopics(ctx context.Context) (map[string]int, error) {
	resp, err := c.admin.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("bus: list topics: %w", err)
	}
	out := make(map[string]int, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Error != nil {
			continue
		}
		out[t.Name] = len(t.Partitions)
	}
	return out, nil
}
