package deploygen

import (
	"encoding/json"
)

// Panel is one Grafana panel: a title, a kind, a unit and PromQL queries.
type Panel struct {
	Title, Kind, Unit, Description string
	Queries                        []Query
	Width                          int // of 24; 0 means 12
}

// Query is one PromQL target and its legend.
type Query struct{ Expr, Legend string }

// Dashboard is one dashboard file.
type Dashboard struct {
	File, UID, Title, Description string
	Panels                        []Panel
}

func ts(title, unit string, q ...Query) Panel {
	return Panel{Title: title, Kind: "timeseries", Unit: unit, Queries: q}
}

func stat(title, unit string, q ...Query) Panel {
	return Panel{Title: title, Kind: "stat", Unit: unit, Queries: q, Width: 6}
}

// stat4 is a stat a quarter narrower: six in a row.
func stat4(title, unit string, q ...Query) Panel {
	p := stat(title, unit, q...)
	p.Width = 4
	return p
}

func withDescription(p Panel, d string) Panel {
	p.Description = d
	return p
}

func q(expr, legend string) Query { return Query{expr, legend} }

// watermarkLag is the age of each data center's watermark, with the
// freshness bounds of the catalog past which documents are refused.
func watermarkLag() Panel {
	return withDescription(ts("Watermark lag per data center", "s",
		q(`max by (data_center) (askonce_store_watermark_lag_seconds)`, "{{data_center}}"),
		q(`vector(300)`, "life certificate bound (300 s)"),
		q(`vector(900)`, "statuses bound (900 s)")),
		"Time since each data center's watermark: the store holds every record it had committed before now minus this. "+
			"Past a document type's bound (life certificate 300 s, statuses 900 s, acts 3600 s) the API answers 503 source_stale.")
}

// Dashboards are the dashboards of deploy/grafana/dashboards. Every metric
// they use exists in the code (deploy/deploytest checks it).
var Dashboards = []Dashboard{
	{File: "askonce-overview.json", UID: "askonce-overview", Title: "askonce / ask once",
		Description: "Papers citizens did not have to bring, lookups by outcome, the store's watermarks (how recent the data it answers from is), the DLQ.",
		Panels: []Panel{
			stat4("Papers avoided, last 24h", "short", q(`sum(increase(askonce_asks_avoided_total[24h]))`, "")),
			// not_held counts the 503 source_stale refusals too; those are
			// retried by the clerk, not asked of the citizen.
			stat4("Documents not held, last 24h (citizen asked)", "short",
				q(`sum(increase(askonce_lookup_requests_total{outcome="not_held"}[24h])) - (sum(increase(askonce_lookup_source_stale_total[24h])) or vector(0))`, "")),
			withDescription(stat4("Refused as source_stale, last 24h (clerk retries)", "short", q(`sum(increase(askonce_lookup_source_stale_total[24h])) or vector(0)`, "")),
				"503 source_stale: a data center the document reads lagged beyond its freshness bound."),
			withDescription(stat4("Oldest watermark (data center lag)", "s", q(`max(askonce_store_watermark_lag_seconds)`, "")),
				"The store holds every record of every data center committed before now minus this. Life certificates are refused past 300 s, statuses past 900 s, acts past 3600 s."),
			withDescription(stat4("Since a watermark last advanced anywhere", "s", q(`min(askonce_store_watermark_advanced_seconds)`, "")),
				"Seconds normally (connectors write one every 5 s); over 60 s the store is frozen (AskonceStoreFrozen)."),
			stat4("DLQ, records/s", "reqps", q(`askonce:dlq_records:rate5m`, "")),
			{Title: "Papers avoided per day, by document type", Kind: "timeseries", Unit: "short", Width: 12,
				Queries: []Query{q(`sum by (document_type) (increase(askonce_asks_avoided_total[1d]))`, "{{document_type}}")}},
			{Title: "Papers avoided per day, by agency (client)", Kind: "timeseries", Unit: "short", Width: 12,
				Queries: []Query{q(`sum by (client) (increase(askonce_asks_avoided_total[1d]))`, "{{client}}")}},
			ts("Lookups by outcome", "reqps", q(`sum by (outcome) (rate(askonce_lookup_requests_total[$__rate_interval]))`, "{{outcome}}"),
				q(`sum(rate(askonce_lookup_source_stale_total[$__rate_interval]))`, "of which source_stale (503)")),
			watermarkLag(),
			ts("DLQ rate by writer", "reqps",
				q(`sum(rate(askonce_connect_records_rejected_total[$__rate_interval]))`, "connectors"),
				q(`sum(rate(askonce_materialize_records_rejected_total[$__rate_interval]))`, "materializer")),
			ts("Notifications sent, by agency", "reqps", q(`sum by (agency) (rate(askonce_notify_notifications_total[$__rate_interval]))`, "{{agency}}")),
		}},
	{File: "askonce-connect.json", UID: "askonce-connect", Title: "askonce / connect",
		Description: "askonce connect: one series per connector (pgoutbox:<data center>, csvdrop:<data center>).",
		Panels: []Panel{
			ts("Connectors up (0: backing off)", "short", q(`askonce_connect_up`, "{{connector}}")),
			ts("Time since last success", "s", q(`time() - askonce_connect_last_success_timestamp_seconds`, "{{connector}}")),
			withDescription(ts("Time since the last watermark published", "s", q(`time() - askonce_connect_watermark_timestamp_seconds`, "{{connector}}")),
				"A caught-up connector publishes one every 5 s; one behind its source publishes none until it catches up (AskonceConnectorWatermarkStalled past 120 s)."),
			ts("Records published", "reqps", q(`sum by (connector) (rate(askonce_connect_records_published_total[$__rate_interval]))`, "{{connector}}")),
			ts("Records read", "reqps", q(`sum by (connector) (rate(askonce_connect_records_read_total[$__rate_interval]))`, "{{connector}}")),
			ts("Rejected (DLQ) by code", "reqps", q(`sum by (code) (rate(askonce_connect_records_rejected_total[$__rate_interval]))`, "{{code}}")),
			ts("Source lag (outbox rows / CSV lines waiting)", "short", q(`askonce_connect_source_lag_records`, "{{connector}}")),
			ts("Batch duration p99", "s", q(`histogram_quantile(0.99, sum by (le) (rate(askonce_connect_batch_duration_seconds_bucket[$__rate_interval])))`, "batch"),
				q(`histogram_quantile(0.99, sum by (le) (rate(askonce_connect_produce_duration_seconds_bucket[$__rate_interval])))`, "produce")),
			ts("Errors (retried)", "reqps", q(`sum by (connector) (rate(askonce_connect_produce_errors_total[$__rate_interval]))`, "produce {{connector}}"),
				q(`sum by (connector) (rate(askonce_connect_source_errors_total[$__rate_interval]))`, "source {{connector}}")),
			ts("CSV files", "short", q(`sum by (outcome) (increase(askonce_connect_csvdrop_files_total[1h]))`, "{{outcome}} / h"),
				q(`sum(askonce_connect_csvdrop_pending_files)`, "pending")),
			ts("Memory (RSS)", "bytes", q(`process_resident_memory_bytes{job="askonce-connect"}`, "{{instance}}")),
		}},
	{File: "askonce-materialize.json", UID: "askonce-materialize", Title: "askonce / materialize",
		Description: "askonce materialize: the lookup store. Partitions bound parallelism: 12 per record topic.",
		Panels: []Panel{
			ts("Consumer lag by topic", "short", q(`sum by (topic) (askonce_materialize_consumer_lag_messages)`, "{{topic}}")),
			ts("Records applied by table", "reqps", q(`sum by (table) (rate(askonce_materialize_records_applied_total[$__rate_interval]))`, "{{table}}")),
			ts("Stale records skipped (replays, duplicates)", "reqps", q(`sum by (table) (rate(askonce_materialize_records_stale_total[$__rate_interval]))`, "{{table}}")),
			ts("Rejected (DLQ) by topic and code", "reqps", q(`sum by (topic, code) (rate(askonce_materialize_records_rejected_total[$__rate_interval]))`, "{{topic}} {{code}}")),
			ts("Batch duration p50 / p99", "s",
				q(`histogram_quantile(0.5, sum by (le) (rate(askonce_materialize_batch_duration_seconds_bucket[$__rate_interval])))`, "p50"),
				q(`histogram_quantile(0.99, sum by (le) (rate(askonce_materialize_batch_duration_seconds_bucket[$__rate_interval])))`, "p99")),
			ts("Mean batch size", "short", q(`sum(rate(askonce_materialize_batch_size_messages_sum[$__rate_interval])) / sum(rate(askonce_materialize_batch_size_messages_count[$__rate_interval]))`, "messages")),
			ts("Batch errors (retried)", "reqps", q(`sum by (instance) (rate(askonce_materialize_batch_errors_total[$__rate_interval]))`, "{{instance}}")),
			watermarkLag(),
			withDescription(ts("Time since each watermark last advanced", "s", q(`max by (data_center) (askonce_store_watermark_advanced_seconds)`, "{{data_center}}")),
				"Seconds normally; all of them over 60 s: the store is frozen (AskonceStoreFrozen), /readyz fails at 120 s."),
			withDescription(ts("Newest record applied, age per data center", "s", q(`askonce_materialize_freshness_age_seconds`, "{{data_center}}")),
				"How long since a record of the data center was applied (a quiet source is not stale: the watermark says that)."),
		}},
	{File: "askonce-lookup.json", UID: "askonce-lookup", Title: "askonce / lookup API",
		Description: "askonce serve: document requests, outcomes, latency.",
		Panels: []Panel{
			ts("Requests by outcome", "reqps", q(`sum by (outcome) (rate(askonce_lookup_requests_total[$__rate_interval]))`, "{{outcome}}")),
			ts("Requests by document type", "reqps", q(`sum by (document_type) (rate(askonce_lookup_requests_total[$__rate_interval]))`, "{{document_type}}")),
			withDescription(ts("Refused as source_stale (503), by document type", "reqps", q(`sum by (document_type) (rate(askonce_lookup_source_stale_total[$__rate_interval]))`, "{{document_type}}")),
				"A data center the document reads lagged beyond the document type's freshness bound: the clerk was told to retry."),
			ts("Latency p99 by endpoint", "s", q(`histogram_quantile(0.99, sum by (endpoint, le) (rate(askonce_lookup_request_duration_seconds_bucket[$__rate_interval])))`, "{{endpoint}}")),
			ts("Audit append p99", "s", q(`histogram_quantile(0.99, sum by (le) (rate(askonce_lookup_audit_append_duration_seconds_bucket[$__rate_interval])))`, "p99")),
			ts("Error ratios", "percentunit", q(`askonce:lookup_server_error_ratio:rate5m`, "server (503)"), q(`askonce:lookup_client_error_ratio:rate5m`, "client")),
			ts("Papers avoided by client", "reqps", q(`sum by (client) (rate(askonce_asks_avoided_total[$__rate_interval]))`, "{{client}}")),
		}},
	{File: "askonce-audit.json", UID: "askonce-audit", Title: "askonce / audit log",
		Description: "The hash-chained audit log: group commit and the askonce.audit.v1 mirror.",
		Panels: []Panel{
			ts("Entries by outcome", "reqps", q(`sum by (outcome) (rate(askonce_audit_entries_total[$__rate_interval]))`, "{{outcome}}")),
			ts("Append p99 / commit p99", "s",
				q(`histogram_quantile(0.99, sum by (le) (rate(askonce_audit_append_duration_seconds_bucket[$__rate_interval])))`, "append"),
				q(`histogram_quantile(0.99, sum by (le) (rate(askonce_audit_commit_duration_seconds_bucket[$__rate_interval])))`, "commit")),
			ts("Entries per transaction (group commit)", "short", q(`sum(rate(askonce_audit_batch_size_sum[$__rate_interval])) / sum(rate(askonce_audit_batch_size_count[$__rate_interval]))`, "mean")),
			ts("Failures", "short", q(`sum by (instance) (increase(askonce_audit_append_failures_total[$__rate_interval]))`, "append failures {{instance}}"),
				q(`sum by (instance) (increase(askonce_audit_commit_errors_total[$__rate_interval]))`, "commit errors {{instance}}")),
			ts("Mirror: lag and published", "short", q(`askonce_audit_publish_lag_entries`, "lag {{instance}}"),
				q(`sum(rate(askonce_audit_published_total[$__rate_interval]))`, "published/s"),
				q(`sum(rate(askonce_audit_publish_errors_total[$__rate_interval]))`, "errors/s")),
		}},
	{File: "askonce-notify.json", UID: "askonce-notify", Title: "askonce / notify",
		Description: "askonce notify: change notifications to askonce.notify.<agency>.",
		Panels: []Panel{
			ts("Notifications by agency and kind", "reqps", q(`sum by (agency, kind) (rate(askonce_notify_notifications_total[$__rate_interval]))`, "{{agency}} {{kind}}")),
			ts("Consumer lag by topic", "short", q(`sum by (topic) (askonce_notify_consumer_lag_messages)`, "{{topic}}")),
			ts("Records routed / skipped", "reqps", q(`sum by (topic) (rate(askonce_notify_records_total[$__rate_interval]))`, "routed {{topic}}"),
				q(`sum by (topic) (rate(askonce_notify_records_skipped_total[$__rate_interval]))`, "skipped {{topic}}")),
			ts("Duplicates suppressed", "reqps", q(`sum(rate(askonce_notify_duplicates_suppressed_total[$__rate_interval]))`, "suppressed")),
			ts("Portfolio members", "short", q(`max by (agency) (askonce_notify_portfolio_members)`, "{{agency}}")),
			ts("Portfolio changes / unroutable / batch errors", "reqps",
				q(`sum by (outcome) (rate(askonce_notify_portfolio_changes_total[$__rate_interval]))`, "change {{outcome}}"),
				q(`sum by (agency) (rate(askonce_notify_unroutable_total[$__rate_interval]))`, "unroutable {{agency}}"),
				q(`sum(rate(askonce_notify_batch_errors_total[$__rate_interval]))`, "batch errors")),
		}},
	{File: "askonce-registry.json", UID: "askonce-registry", Title: "askonce / schema registry",
		Description: "askonce registry: the Confluent-API schema registry.",
		Panels: []Panel{
			ts("Requests by route and status", "reqps", q(`sum by (route, code) (rate(askonce_registry_requests_total[$__rate_interval]))`, "{{route}} {{code}}")),
			ts("Latency p99 by route", "s", q(`histogram_quantile(0.99, sum by (route, le) (rate(askonce_registry_request_duration_seconds_bucket[$__rate_interval])))`, "{{route}}")),
			ts("Versions created", "short", q(`sum(increase(askonce_registry_versions_created_total[1h]))`, "per hour")),
			ts("Dependencies up (readiness)", "short", q(`askonce_ops_dependency_up{job="askonce-registry"}`, "{{instance}} {{dependency}}")),
		}},
}

// dashboards renders Dashboards as Grafana JSON (schema 39, Grafana 10/11).
func dashboards() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, d := range Dashboards {
		var panels []any
		x, y, rowH := 0, 0, 0
		for i, p := range d.Panels {
			w := p.Width
			if w == 0 {
				w = 12
			}
			h := 8
			if p.Kind == "stat" {
				h = 4
			}
			if x+w > 24 {
				x, y = 0, y+rowH
				rowH = 0
			}
			var targets []any
			for j, qq := range p.Queries {
				targets = append(targets, map[string]any{
					"refId":        string(rune('A' + j)),
					"datasource":   map[string]string{"type": "prometheus", "uid": "${datasource}"},
					"expr":         qq.Expr,
					"legendFormat": qq.Legend,
					"range":        true,
				})
			}
			panels = append(panels, map[string]any{
				"id":          i + 1,
				"type":        p.Kind,
				"title":       p.Title,
				"description": p.Description,
				"datasource":  map[string]string{"type": "prometheus", "uid": "${datasource}"},
				"gridPos":     map[string]int{"x": x, "y": y, "w": w, "h": h},
				"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.Unit}, "overrides": []any{}},
				"options":     map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true}},
				"targets":     targets,
			})
			x += w
			rowH = max(rowH, h)
		}
		dash := map[string]any{
			"uid":           d.UID,
			"title":         d.Title,
			"description":   d.Description,
			"tags":          []string{"askonce"},
			"schemaVersion": 39,
			"version":       1,
			"editable":      true,
			"timezone":      "utc",
			"refresh":       "30s",
			"time":          map[string]string{"from": "now-6h", "to": "now"},
			"templating": map[string]any{"list": []any{map[string]any{
				"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
				"current": map[string]string{"text": "Prometheus", "value": "prometheus"},
			}}},
			"links":  []any{map[string]any{"title": "askonce", "type": "dashboards", "tags": []string{"askonce"}, "asDropdown": true}},
			"panels": panels,
		}
		b, err := json.MarshalIndent(dash, "", "  ")
		if err != nil {
			return nil, err
		}
		out[d.File] = append(b, '\n')
	}
	return out, nil
}
