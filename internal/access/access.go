// Package access is askonce's identity model on Kafka: which principals
// exist (one per component kind, one per agency data-center connector, one
// per agency back office) and exactly what each may do on which topic and
// consumer group. It is the one source of truth for every place that
// grants Kafka rights: the embedded broker of `askonce dev` and the tests,
// `askonce access apply` on a cluster managed by hand, and the Strimzi
// KafkaUser manifests generated into deploy/. Anything not granted here is
// denied.
package access

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/askonce/askonce/internal/bus"
)

// Kind is what a principal is for.
type Kind string

// The kinds of principals.
const (
	// Release creates the topics (`askonce topics ensure`, a release step).
	Release Kind = "release"
	// Connector is one agency data center's connector (`askonce connect`).
	Connector Kind = "connector"
	// Materializer applies the record topics to the lookup store.
	Materializer Kind = "materializer"
	// Router turns record changes into agencies' notifications (`askonce notify`).
	Router Kind = "router"
	// API is the lookup API (`askonce serve`): it mirrors its audit log.
	API Kind = "api"
	// BackOffice is one agency's back-office system: it reads its own
	// notifications and declares its own portfolio.
	BackOffice Kind = "backoffice"
	// Operator reads the dead-letter queue to have producers fix what was
	// refused, and watches topics and consumer groups.
	Operator Kind = "operator"
)

// Resource is what a grant is on.
type Resource string

// Resources.
const (
	Topic   Resource = "topic"
	Group   Resource = "group"
	Cluster Resource = "cluster"
)

// Pattern says how a grant's name matches resources.
type Pattern string

// Patterns.
const (
	Literal  Pattern = "literal"
	Prefixed Pattern = "prefixed"
)

// Op is a Kafka operation. Describe is implied by Read and Write, as in
// Kafka's own authorizer, but is granted explicitly where it is needed
// alone.
type Op string

// Operations. No principal is ever given Delete, Alter, AlterConfigs or
// All: nobody deletes topics or records.
const (
	Read            Op = "Read"
	Write           Op = "Write"
	Create          Op = "Create"
	Describe        Op = "Describe"
	DescribeConfigs Op = "DescribeConfigs"
)

// Grant allows Ops on the resources that Name matches.
type Grant struct {
	Resource Resource `json:"resource"`
	Pattern  Pattern  `json:"pattern"`
	Name     string   `json:"name"`
	Ops      []Op     `json:"ops"`
}

func (g Grant) String() string {
	ops := make([]string, len(g.Ops))
	for i, o := range g.Ops {
		ops[i] = string(o)
	}
	name := g.Name
	if g.Pattern == Prefixed {
		name += "*"
	}
	return fmt.Sprintf("%s %s: %s", g.Resource, name, strings.Join(ops, ","))
}

// Principal is one Kafka identity (a SCRAM user name; User:<Name> in ACLs).
type Principal struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Agency and DataCenter are set for connectors and back offices.
	Agency     string  `json:"agency,omitempty"`
	DataCenter string  `json:"data_center,omitempty"`
	Grants     []Grant `json:"grants"`
}

// DataCenter is an agency data center that runs a connector.
type DataCenter struct {
	Agency string
	// Name is the data center's name, unique across agencies (for example
	// cnas-dc03).
	Name string
}

// Input is what the model is built from: the topic configuration (prefix
// and agencies), the connectors' data centers and the consumer groups.
type Input struct {
	Topics bus.TopicsConfig
	// DataCenters run one connector each.
	DataCenters []DataCenter
	// MaterializeGroup and NotifyGroup are materialize.group_id and
	// notify.group_id.
	MaterializeGroup, NotifyGroup string
}

// Publishes lists, per agency, the record topics (base names) its
// connectors may write. An agency not listed publishes no record: it only
// consumes notifications. Adding a publishing agency is a change here,
// reviewed like any change of rights.
var publishes = map[string][]string{
	"etatcivil": {bus.BaseCivilStatus},
	"cnas":      {bus.BaseEmployment, bus.BaseContribution},
	"casnos":    {bus.BaseEmployment, bus.BaseContribution},
}

// Publishes returns the record topics (base names) that agency's
// connectors may write, nil for an agency that publishes none.
func Publishes(agency string) []string { return slices.Clone(publishes[agency]) }

// Principal names of the component kinds.
const (
	ReleaseName      = "askonce-release"
	MaterializerName = "askonce-materializer"
	RouterName       = "askonce-router"
	APIName          = "askonce-api"
	OperatorName     = "askonce-operator"
)

// ConnectorName is the principal of one data center's connector:
// askonce-connect-<agency>-<dc>, where a data center already named
// <agency>-... is not prefixed twice (cnas-dc03: askonce-connect-cnas-dc03).
func ConnectorName(agency, dataCenter string) string {
	return "askonce-connect-" + agency + "-" + strings.TrimPrefix(dataCenter, agency+"-")
}

// BackOfficeName is the principal of an agency's back office.
func BackOfficeName(agency string) string { return "askonce-backoffice-" + agency }

// ConsumeGroup is the default consumer group of an agency's back office
// (`askonce notify consume --agency A`); its back office may also use
// groups named ConsumeGroup(A)+".<anything>".
func ConsumeGroup(agency string) string { return "askonce-consume-" + agency }

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Model is the full set of principals, in a stable order.
type Model struct {
	Principals []Principal `json:"principals"`
}

// Build derives the model from in. It fails on a name that can not be a
// principal or a Kubernetes object (lowercase letters, digits and '-'), on
// a data center of an agency that publishes nothing, and on duplicates.
func Build(in Input) (Model, error) {
	t := bus.NewTopics(in.Topics)
	var errs []error
	check := func(what, s string) {
		if !nameRE.MatchString(s) {
			errs = append(errs, fmt.Errorf("access: %s %q: use lowercase letters, digits and '-'", what, s))
		}
	}
	if in.MaterializeGroup == "" || in.NotifyGroup == "" {
		errs = append(errs, errors.New("access: the materializer's and the router's consumer groups are needed"))
	}
	records := t.Records()
	var m Model
	add := func(p Principal) { m.Principals = append(m.Principals, p) }

	add(Principal{Name: ReleaseName, Kind: Release, Grants: []Grant{
		{Topic, Prefixed, t.Prefix(), []Op{Create, DescribeConfigs, Describe}},
	}})
	dcs := slices.Clone(in.DataCenters)
	sort.Slice(dcs, func(i, j int) bool {
		if dcs[i].Agency != dcs[j].Agency {
			return dcs[i].Agency < dcs[j].Agency
		}
		return dcs[i].Name < dcs[j].Name
	})
	for _, dc := range dcs {
		check("agency", dc.Agency)
		check("data center", dc.Name)
		pubs := publishes[dc.Agency]
		if len(pubs) == 0 {
			errs = append(errs, fmt.Errorf("access: data center %s: agency %q publishes no record topic (see access.Publishes)", dc.Name, dc.Agency))
			continue
		}
		var grants []Grant
		for _, base := range pubs {
			grants = append(grants, Grant{Topic, Literal, in.Topics.Prefix + base, []Op{Write}})
		}
		grants = append(grants, Grant{Topic, Literal, t.DLQ, []Op{Write}})
		add(Principal{Name: ConnectorName(dc.Agency, dc.Name), Kind: Connector, Agency: dc.Agency, DataCenter: dc.Name, Grants: grants})
	}

	var mat []Grant
	for _, r := range records {
		mat = append(mat, Grant{Topic, Literal, r, []Op{Read}})
	}
	mat = append(mat, Grant{Topic, Literal, t.DLQ, []Op{Write}}, Grant{Group, Literal, in.MaterializeGroup, []Op{Read}})
	add(Principal{Name: MaterializerName, Kind: Materializer, Grants: mat})

	var rt []Grant
	for _, r := range records {
		rt = append(rt, Grant{Topic, Literal, r, []Op{Read}})
	}
	rt = append(rt,
		Grant{Topic, Prefixed, t.PortfolioPrefix(), []Op{Read}},
		Grant{Topic, Prefixed, t.NotifyPrefix(), []Op{Write}},
		Grant{Topic, Literal, t.DLQ, []Op{Write}},
		Grant{Group, Literal, in.NotifyGroup, []Op{Read}})
	add(Principal{Name: RouterName, Kind: Router, Grants: rt})

	add(Principal{Name: APIName, Kind: API, Grants: []Grant{{Topic, Literal, t.Audit, []Op{Write}}}})

	agencies := slices.Clone(in.Topics.Agencies)
	sort.Strings(agencies)
	for _, a := range agencies {
		check("agency", a)
		if a == "v1" {
			errs = append(errs, errors.New(`access: agency "v1" would share a topic name with the bus's own versioned topics`))
		}
		add(Principal{Name: BackOfficeName(a), Kind: BackOffice, Agency: a, Grants: []Grant{
			{Topic, Literal, t.Notify(a), []Op{Read}},
			{Topic, Literal, t.AgencyPortfolio(a), []Op{Write}},
			{Group, Literal, ConsumeGroup(a), []Op{Read}},
			{Group, Prefixed, ConsumeGroup(a) + ".", []Op{Read}},
		}})
	}

	add(Principal{Name: OperatorName, Kind: Operator, Grants: []Grant{
		{Topic, Literal, t.DLQ, []Op{Read}},
		{Topic, Prefixed, t.Prefix(), []Op{Describe}},
		{Group, Prefixed, "askonce-", []Op{Describe}},
	}})

	seen := map[string]bool{}
	for _, p := range m.Principals {
		check("principal", p.Name)
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("access: principal %s twice (two data centers with the same name?)", p.Name))
		}
		seen[p.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return Model{}, err
	}
	return m, nil
}

// Find returns the principal named name.
func (m Model) Find(name string) (Principal, bool) {
	for _, p := range m.Principals {
		if p.Name == name {
			return p, true
		}
	}
	return Principal{}, false
}

// Allows reports whether p may do op on the resource of type r named name,
// by p's grants alone, with the one implication of Kafka's authorizer that
// the model relies on: Describe is implied by Read and Write.
func (p Principal) Allows(r Resource, name string, op Op) bool {
	for _, g := range p.Grants {
		if g.Resource != r {
			continue
		}
		if g.Pattern == Literal && g.Name != name || g.Pattern == Prefixed && !strings.HasPrefix(name, g.Name) {
			continue
		}
		for _, o := range g.Ops {
			if o == op || op == Describe && (o == Read || o == Write) {
				return true
			}
		}
	}
	return false
}

// mayNot says, per kind, what the principal is refused that an attacker
// holding it would want; the rights it has are its grants.
var mayNot = map[Kind]string{
	Release:      "read or write any record; delete or alter a topic",
	Connector:    "read any topic; write another agency's record topics, the audit, notification or portfolio topics; join a consumer group",
	Materializer: "write a record, notification, portfolio or audit topic; read the audit, notification or portfolio topics",
	Router:       "write a record, portfolio or audit topic; read the audit topic",
	API:          "read or write any record, notification or portfolio topic; read the audit topic back",
	BackOffice:   "read another agency's notifications; write another agency's portfolio; write any record or the audit topic; use another consumer group",
	Operator:     "write anything; read records, notifications, portfolios or the audit topic",
}

// Markdown renders the model as a table (principal, what it is, may, may
// not) for the documentation: one row per kind, and per agency for
// connectors and back offices, with <agency> and <dc> where names vary.
func (m Model) Markdown() string {
	type row struct{ name, kind, may, mayNot string }
	var rows []row
	index := map[string]int{}
	for _, p := range m.Principals {
		name, agency := p.Name, p.Agency
		generic := func(s string) string { return s }
		switch p.Kind {
		case Connector:
			name = ConnectorName(p.Agency, "<dc>")
		case BackOffice:
			name, agency = BackOfficeName("<agency>"), "<agency>"
			generic = func(s string) string {
				return strings.ReplaceAll(s, p.Agency, "<agency>")
			}
		}
		var may []string
		for _, g := range p.Grants {
			ops := make([]string, len(g.Ops))
			for i, o := range g.Ops {
				ops[i] = strings.ToLower(string(o))
			}
			n := "`" + generic(g.Name) + "`"
			if g.Pattern == Prefixed {
				n = "`" + generic(g.Name) + "*`"
			}
			may = append(may, strings.Join(ops, ", ")+" "+string(g.Resource)+" "+n)
		}
		if _, ok := index[name]; ok {
			continue
		}
		kind := string(p.Kind)
		if agency != "" && p.Kind == Connector {
			kind += ", one per " + agency + " data center"
		}
		if p.Kind == BackOffice {
			kind += ", one per agency"
		}
		index[name] = len(rows)
		rows = append(rows, row{name, kind, strings.Join(may, "; "), mayNot[p.Kind]})
	}
	var b strings.Builder
	b.WriteString("| Kafka principal | what | may | may not |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.name, r.kind, r.may, r.mayNot)
	}
	return b.String()
}
