package access

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go"
)

// ManagedPrefix starts the name of every principal the model manages:
// Apply deletes the ACLs of principals with this prefix that the model
// does not grant, and leaves every other principal's ACLs alone.
const ManagedPrefix = "askonce-"

// ACL is one Kafka ACL binding of the model. Every binding allows, from
// any host.
type ACL struct {
	// Principal is User:<name>.
	Principal string
	Resource  Resource
	Pattern   Pattern
	Name      string
	Op        Op
}

func (a ACL) String() string {
	name := a.Name
	if a.Pattern == Prefixed {
		name += "*"
	}
	return fmt.Sprintf("%s %s %s %s", a.Principal, a.Op, a.Resource, name)
}

// KafkaPrincipal is the ACL principal of a principal name.
func KafkaPrincipal(name string) string { return "User:" + name }

// ACLs expands the model into its ACL bindings, one per principal,
// resource and operation, sorted and without duplicates.
func (m Model) ACLs() []ACL {
	seen := map[ACL]bool{}
	var out []ACL
	for _, p := range m.Principals {
		for _, g := range p.Grants {
			for _, o := range g.Ops {
				a := ACL{Principal: KafkaPrincipal(p.Name), Resource: g.Resource, Pattern: g.Pattern, Name: g.Name, Op: o}
				if !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
	}
	sortACLs(out)
	return out
}

func sortACLs(as []ACL) {
	sort.Slice(as, func(i, j int) bool { return as[i].String() < as[j].String() })
}

// ApplyResult is what Apply found and did.
type ApplyResult struct {
	// Credentials are the principals whose SCRAM-SHA-512 credential was
	// set from their password file.
	Credentials []string
	// NoPassword are the principals without a password file: their
	// credential, if any, was left as it is.
	NoPassword []string
	// Created are the ACLs of the model the cluster lacked.
	Created []ACL
	// Kept counts the ACLs of the model the cluster already had.
	Kept int
	// Deleted are the ACLs of askonce-* principals the model does not have.
	Deleted []ACL
}

// scramIterations is the PBKDF2 iteration count of the credentials Apply
// sets: Kafka's minimum for SCRAM-SHA-512, and its default.
const scramIterations = 4096

// Apply makes the cluster that admin talks to match m: it sets the
// SCRAM-SHA-512 credential of every principal that has a password file in
// passwordsDir (a file named after the principal, holding its password),
// creates every ACL of m, and deletes the ACLs of askonce-* principals
// that m does not have, so that a right removed from the model is removed
// from the cluster. It is idempotent; the credentials are set again each
// time (with a new salt), which a client with the same password does not
// notice. An empty passwordsDir sets no credential. admin must connect as
// a principal allowed to alter the cluster (a superuser). Passwords are
// never logged.
func Apply(ctx context.Context, admin *kafka.Client, m Model, passwordsDir string, log *slog.Logger) (ApplyResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var res ApplyResult
	if passwordsDir != "" {
		// A mistyped directory must not pass for "no password to set".
		if fi, err := os.Stat(passwordsDir); err != nil {
			return res, fmt.Errorf("access: passwords directory: %w", err)
		} else if !fi.IsDir() {
			return res, fmt.Errorf("access: passwords directory %s is not a directory", passwordsDir)
		}
		if err := setCredentials(ctx, admin, m, passwordsDir, &res, log); err != nil {
			return res, err
		}
	}

	want := m.ACLs()
	have, err := describeManaged(ctx, admin)
	if err != nil {
		return res, err
	}
	wanted := make(map[ACL]bool, len(want))
	for _, a := range want {
		wanted[a] = true
	}
	var create []ACL
	for _, a := range want {
		if _, ok := have[a]; ok {
			res.Kept++
		} else {
			create = append(create, a)
		}
	}
	var stale []ACL
	for a := range have {
		if !wanted[a] {
			stale = append(stale, a)
		}
	}
	sortACLs(stale)

	if len(create) > 0 {
		entries := make([]kafka.ACLEntry, len(create))
		for i, a := range create {
			entries[i] = entry(a)
		}
		resp, err := admin.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: entries})
		if err != nil {
			return res, fmt.Errorf("access: create ACLs: %w", err)
		}
		var errs []error
		for i, e := range resp.Errors {
			if e != nil && i < len(create) {
				errs = append(errs, fmt.Errorf("access: create ACL %s: %w", create[i], e))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return res, err
		}
		res.Created = create
		for _, a := range create {
			log.Debug("ACL created", "acl", a.String())
		}
	}

	if len(stale) > 0 {
		filters := make([]kafka.DeleteACLsFilter, len(stale))
		for i, a := range stale {
			e := have[a]
			filters[i] = kafka.DeleteACLsFilter{
				ResourceTypeFilter: e.ResourceType, ResourceNameFilter: e.ResourceName,
				ResourcePatternTypeFilter: e.ResourcePatternType, PrincipalFilter: e.Principal,
				HostFilter: e.Host, Operation: e.Operation, PermissionType: e.PermissionType,
			}
		}
		resp, err := admin.DeleteACLs(ctx, &kafka.DeleteACLsRequest{Filters: filters})
		if err != nil {
			return res, fmt.Errorf("access: delete ACLs: %w", err)
		}
		var errs []error
		for i, r := range resp.Results {
			if r.Error != nil && i < len(stale) {
				errs = append(errs, fmt.Errorf("access: delete ACL %s: %w", stale[i], r.Error))
			}
			for _, m := range r.MatchingACLs {
				if m.Error != nil {
					errs = append(errs, fmt.Errorf("access: delete ACL %s: %w", stale[i], m.Error))
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			return res, err
		}
		res.Deleted = stale
		for _, a := range stale {
			log.Info("ACL deleted: the model does not grant it", "acl", a.String())
		}
	}
	return res, nil
}

// setCredentials upserts the SCRAM-SHA-512 credential of each principal
// that has a password file.
func setCredentials(ctx context.Context, admin *kafka.Client, m Model, dir string, res *ApplyResult, log *slog.Logger) error {
	var ups []kafka.UserScramCredentialsUpsertion
	for _, p := range m.Principals {
		pw, err := ReadPassword(dir, p.Name)
		if errors.Is(err, fs.ErrNotExist) {
			res.NoPassword = append(res.NoPassword, p.Name)
			continue
		}
		if err != nil {
			return err
		}
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return fmt.Errorf("access: salt: %w", err)
		}
		salted, err := pbkdf2.Key(sha512.New, pw, salt, scramIterations, sha512.Size)
		if err != nil {
			return fmt.Errorf("access: credential of %s: %w", p.Name, err)
		}
		ups = append(ups, kafka.UserScramCredentialsUpsertion{
			Name: p.Name, Mechanism: kafka.ScramMechanismSha512, Iterations: scramIterations, Salt: salt, SaltedPassword: salted,
		})
	}
	if len(ups) == 0 {
		return nil
	}
	resp, err := admin.AlterUserScramCredentials(ctx, &kafka.AlterUserScramCredentialsRequest{Upsertions: ups})
	if err != nil {
		return fmt.Errorf("access: set SCRAM credentials: %w", err)
	}
	var errs []error
	for _, r := range resp.Results {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("access: SCRAM credential of %s: %w", r.User, r.Error))
			continue
		}
		res.Credentials = append(res.Credentials, r.User)
		log.Debug("SCRAM-SHA-512 credential set", "principal", r.User)
	}
	sort.Strings(res.Credentials)
	return errors.Join(errs...)
}

// ReadPassword reads the password of principal name from dir/name (its
// surrounding white space, a trailing newline for one, is not part of
// it). A missing file is an error that matches fs.ErrNotExist.
func ReadPassword(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("access: password of %s: %w", name, err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("access: password file %s is empty", filepath.Join(dir, name))
	}
	return pw, nil
}

// describeManaged returns the cluster's ACLs of askonce-* principals that
// with the exact binding to delete them by. An ACL of such a principal
// that the model can not express (a Deny, one host, another resource type
// or operation) gets a key no model ACL has, so that Apply deletes it.
func describeManaged(ctx context.Context, admin *kafka.Client) (map[ACL]kafka.ACLEntry, error) {
	resp, err := admin.DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
		ResourceTypeFilter:        kafka.ResourceTypeAny,
		ResourcePatternTypeFilter: kafka.PatternTypeAny,
		Operation:                 kafka.ACLOperationTypeAny,
		PermissionType:            kafka.ACLPermissionTypeAny,
	}})
	if err != nil {
		return nil, fmt.Errorf("access: describe ACLs: %w", err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("access: describe ACLs: %w", resp.Error)
	}
	out := map[ACL]kafka.ACLEntry{}
	for _, r := range resp.Resources {
		for _, d := range r.ACLs {
			if !strings.HasPrefix(d.Principal, KafkaPrincipal(ManagedPrefix)) {
				continue
			}
			a, ok := fromKafka(r, d)
			if !ok {
				// Not expressible in the model (a Deny, one host, another
				// resource type or operation): never wanted, so deleted.
				a = ACL{Principal: d.Principal, Resource: Resource(strings.ToLower(r.ResourceType.String())), Name: r.ResourceName,
					Pattern: Pattern(strings.ToLower(r.PatternType.String())), Op: Op(d.Operation.String() + " (" + d.PermissionType.String() + " from " + d.Host + ")")}
			}
			out[a] = kafka.ACLEntry{ResourceType: r.ResourceType, ResourceName: r.ResourceName, ResourcePatternType: r.PatternType,
				Principal: d.Principal, Host: d.Host, Operation: d.Operation, PermissionType: d.PermissionType}
		}
	}
	return out, nil
}

var (
	toKafkaResource = map[Resource]kafka.ResourceType{Topic: kafka.ResourceTypeTopic, Group: kafka.ResourceTypeGroup, Cluster: kafka.ResourceTypeCluster}
	toKafkaPattern  = map[Pattern]kafka.PatternType{Literal: kafka.PatternTypeLiteral, Prefixed: kafka.PatternTypePrefixed}
	toKafkaOp       = map[Op]kafka.ACLOperationType{
		Read: kafka.ACLOperationTypeRead, Write: kafka.ACLOperationTypeWrite, Create: kafka.ACLOperationTypeCreate,
		Describe: kafka.ACLOperationTypeDescribe, DescribeConfigs: kafka.ACLOperationTypeDescribeConfigs,
	}
)

// entry is the Kafka binding of a: Allow, from any host.
func entry(a ACL) kafka.ACLEntry {
	return kafka.ACLEntry{
		ResourceType: toKafkaResource[a.Resource], ResourceName: a.Name, ResourcePatternType: toKafkaPattern[a.Pattern],
		Principal: a.Principal, Host: "*", Operation: toKafkaOp[a.Op], PermissionType: kafka.ACLPermissionTypeAllow,
	}
}

// fromKafka is the model ACL of a Kafka binding, if the model can express it.
func fromKafka(r kafka.ACLResource, d kafka.ACLDescription) (ACL, bool) {
	if d.PermissionType != kafka.ACLPermissionTypeAllow || d.Host != "*" {
		return ACL{}, false
	}
	a := ACL{Principal: d.Principal, Name: r.ResourceName}
	var ok bool
	if a.Resource, ok = lookup(toKafkaResource, r.ResourceType); !ok {
		return ACL{}, false
	}
	if a.Pattern, ok = lookup(toKafkaPattern, r.PatternType); !ok {
		return ACL{}, false
	}
	if a.Op, ok = lookup(toKafkaOp, d.Operation); !ok {
		return ACL{}, false
	}
	return a, true
}

func lookup[K, V comparable](m map[K]V, v V) (K, bool) {
	for k, x := range m {
		if x == v {
			return k, true
		}
	}
	var zero K
	return zero, false
}
