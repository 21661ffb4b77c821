package access_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/testenv"
	"github.com/askonce/askonce/internal/wiring"
)

// cluster is an embedded broker with SASL and ACLs on, the model of the
// seeded pilot applied to it, every principal with a password, and the
// topics created by the release principal.
type cluster struct {
	t      *testing.T
	tb     *testenv.Broker
	m      access.Model
	dir    string
	topics bus.Topics
	admin  *bus.Client
}

func startCluster(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	c := &cluster{t: t, tb: testenv.StartSecureBroker(t, nil), m: model(t, ""), dir: t.TempDir()}
	for _, p := range c.m.Principals {
		testenv.Must(t, os.WriteFile(filepath.Join(c.dir, p.Name), []byte(testenv.Random(12)+"\n"), 0o600), "password of %s", p.Name)
	}
	c.admin = c.newAdmin()
	res, err := access.Apply(ctx, c.admin.Admin(), c.m, c.dir, nil)
	testenv.Must(t, err, "apply")
	if len(res.Credentials) != len(c.m.Principals) || len(res.Created) != len(c.m.ACLs()) || len(res.Deleted) != 0 || res.Kept != 0 {
		t.Fatalf("first apply: %d credentials, %d created, %d kept, %d deleted; want %d, %d, 0, 0",
			len(res.Credentials), len(res.Created), res.Kept, len(res.Deleted), len(c.m.Principals), len(c.m.ACLs()))
	}
	// The release principal creates the topics, the agencies' portfolio
	// topics among them.
	rel := c.client(access.ReleaseName)
	c.topics = rel.Topics()
	specs := c.topics.Specs()
	ens, err := rel.EnsureTopics(ctx, specs, nil)
	testenv.Must(t, err, "the release principal creates the topics")
	if len(ens.Created) != len(specs) {
		t.Fatalf("release created %d topics, want %d", len(ens.Created), len(specs))
	}
	return c
}

// newAdmin is a client of the superuser.
func (c *cluster) newAdmin() *bus.Client {
	c.t.Helper()
	cl, err := bus.New(wiring.Kafka(c.tb.KafkaAdmin()))
	testenv.Must(c.t, err, "admin client")
	c.t.Cleanup(cl.Close)
	return cl
}

func (c *cluster) password(name string) string {
	c.t.Helper()
	pw, err := access.ReadPassword(c.dir, name)
	testenv.Must(c.t, err, "password")
	return pw
}

// client is askonce's own Kafka client, authenticated as principal name.
func (c *cluster) client(name string) *bus.Client {
	c.t.Helper()
	cl, err := bus.New(wiring.Kafka(c.tb.KafkaAs(name, c.password(name))))
	testenv.Must(c.t, err, "client of %s", name)
	c.t.Cleanup(cl.Close)
	return cl
}

// raw is a franz-go client authenticated as name, to send single protocol
// requests to the broker and read each answer's own error code (kafka-go
// turns some into "unknown topic" after a metadata request).
func (c *cluster) raw(name string) *kgo.Broker {
	c.t.Helper()
	// Kafka 3.0's versions: Fetch names its topics (v13 on uses ids).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.tb.Addr), kgo.MaxVersions(kversion.V3_0_0()),
		kgo.SASL(scram.Auth{User: name, Pass: c.password(name)}.AsSha512Mechanism()))
	testenv.Must(c.t, err, "franz-go client of %s", name)
	c.t.Cleanup(cl.Close)
	return cl.SeedBrokers()[0]
}

func (c *cluster) produce(ctx context.Context, name, topic string) error {
	c.t.Helper()
	rec := kmsg.NewRecord()
	rec.Key, rec.Value = []byte("attack"), []byte("a record it may not write")
	batch := kmsg.RecordBatch{FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Magic: 2}
	batch.Records = rec.AppendTo(nil)
	batch.Length = int32(len(batch.AppendTo(nil)) - 12)
	raw := batch.AppendTo(nil)
	batch.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch.AppendTo(nil)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

func (c *cluster) fetch(ctx context.Context, name, topic string) error {
	c.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12 // topics by name
	req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = 10, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	fr, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return err
	}
	return kerr.ErrorForCode(fr.Topics[0].Partitions[0].ErrorCode)
}

func (c *cluster) joinGroup(ctx context.Context, name, group, topic string) error {
	c.t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, "consumer", 10000, 10000
	meta := kmsg.ConsumerMemberMetadata{Topics: []string{topic}}
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	resp, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

func (c *cluster) commitOffset(ctx context.Context, name, group, topic string) error {
	c.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

func (c *cluster) createTopic(ctx context.Context, name, topic string) error {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].ErrorCode)
}

func (c *cluster) deleteTopic(ctx context.Context, name, topic string) error {
	c.t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].ErrorCode)
}

func (c *cluster) deleteRecords(ctx context.Context, name, topic string) error {
	c.t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = -1 // everything up to the high watermark
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, c.raw(name))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// TestRefusals sends each attack of issue 19 to the embedded broker as the
// principal that would make it, and checks the broker's answer is the
// authorization error; then that each principal can do its own job.
func TestRefusals(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	c := startCluster(t, ctx)
	tp := c.topics
	const (
		cnasConn = "askonce-connect-cnas-dc03"
		ecConn   = "askonce-connect-etatcivil-dc01"
		cnr      = "askonce-backoffice-cnr"
	)
	type attack struct {
		who, what string
		do        func() error
		want      *kerr.Error
	}
	var attacks []attack
	add := func(who, what string, want *kerr.Error, do func() error) {
		attacks = append(attacks, attack{who, what, do, want})
	}
	topicDenied, groupDenied := kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed
	add(cnasConn, "publishes a death act (civil-status)", topicDenied, func() error { return c.produce(ctx, cnasConn, tp.CivilStatus) })
	add(ecConn, "publishes an employment period", topicDenied, func() error { return c.produce(ctx, ecConn, tp.Employment) })
	add(cnasConn, "rewrites CNR's portfolio", topicDenied, func() error { return c.produce(ctx, cnasConn, tp.AgencyPortfolio("cnr")) })
	add(cnasConn, "writes the audit topic", topicDenied, func() error { return c.produce(ctx, cnasConn, tp.Audit) })
	add(cnasConn, "reads its own agency's notifications", topicDenied, func() error { return c.fetch(ctx, cnasConn, tp.Notify("cnas")) })
	add(cnasConn, "reads CNR's notifications", topicDenied, func() error { return c.fetch(ctx, cnasConn, tp.Notify("cnr")) })
	add(cnasConn, "reads the audit topic", topicDenied, func() error { return c.fetch(ctx, cnasConn, tp.Audit) })
	add(cnasConn, "reads a record topic", topicDenied, func() error { return c.fetch(ctx, cnasConn, tp.Employment) })
	add(cnasConn, "reads the dead-letter queue", topicDenied, func() error { return c.fetch(ctx, cnasConn, tp.DLQ) })
	add(cnasConn, "joins the materializer's group", groupDenied, func() error { return c.joinGroup(ctx, cnasConn, "askonce-materialize", tp.Employment) })
	add(cnr, "writes CNAS's portfolio", topicDenied, func() error { return c.produce(ctx, cnr, tp.AgencyPortfolio("cnas")) })
	add(cnr, "reads CNAS's notifications", topicDenied, func() error { return c.fetch(ctx, cnr, tp.Notify("cnas")) })
	add(cnr, "writes its own notification topic", topicDenied, func() error { return c.produce(ctx, cnr, tp.Notify("cnr")) })
	add(cnr, "joins the materializer's group", groupDenied, func() error { return c.joinGroup(ctx, cnr, "askonce-materialize", tp.Notify("cnr")) })
	add(cnr, "commits offsets in CNAS's consumer group", groupDenied, func() error { return c.commitOffset(ctx, cnr, "askonce-consume-cnas", tp.Notify("cnr")) })
	add(access.MaterializerName, "writes a record topic", topicDenied, func() error { return c.produce(ctx, access.MaterializerName, tp.CivilStatus) })
	add(access.MaterializerName, "reads the audit topic", topicDenied, func() error { return c.fetch(ctx, access.MaterializerName, tp.Audit) })
	add(access.MaterializerName, "joins the router's group", groupDenied, func() error { return c.joinGroup(ctx, access.MaterializerName, "askonce-notify", tp.CivilStatus) })
	add(access.RouterName, "writes a record topic", topicDenied, func() error { return c.produce(ctx, access.RouterName, tp.CivilStatus) })
	add(access.RouterName, "writes CNR's portfolio", topicDenied, func() error { return c.produce(ctx, access.RouterName, tp.AgencyPortfolio("cnr")) })
	add(access.RouterName, "reads the audit topic", topicDenied, func() error { return c.fetch(ctx, access.RouterName, tp.Audit) })
	add(access.APIName, "reads a record topic", topicDenied, func() error { return c.fetch(ctx, access.APIName, tp.CivilStatus) })
	add(access.APIName, "reads the audit topic it writes", topicDenied, func() error { return c.fetch(ctx, access.APIName, tp.Audit) })
	add(access.OperatorName, "reads a record topic", topicDenied, func() error { return c.fetch(ctx, access.OperatorName, tp.CivilStatus) })
	add(access.OperatorName, "writes the dead-letter queue", topicDenied, func() error { return c.produce(ctx, access.OperatorName, tp.DLQ) })
	add(access.ReleaseName, "writes a record topic", topicDenied, func() error { return c.produce(ctx, access.ReleaseName, tp.CivilStatus) })
	add(cnasConn, "creates a topic", topicDenied, func() error { return c.createTopic(ctx, cnasConn, tp.Prefix()+"exfiltrate") })
	// Nobody deletes topics or records, not even the principal that
	// creates the topics.
	for _, p := range []string{access.ReleaseName, access.OperatorName, access.MaterializerName, access.RouterName, access.APIName, cnasConn, ecConn, cnr} {
		add(p, "deletes the civil-status topic", topicDenied, func() error { return c.deleteTopic(ctx, p, tp.CivilStatus) })
		add(p, "deletes the audit topic's records", topicDenied, func() error { return c.deleteRecords(ctx, p, tp.Audit) })
		add(p, "deletes a record topic's records", topicDenied, func() error { return c.deleteRecords(ctx, p, tp.CivilStatus) })
	}
	for _, a := range attacks {
		err := a.do()
		if !errors.Is(err, a.want) {
			t.Errorf("%s %s: %v, want %s", a.who, a.what, err, a.want.Message)
		}
	}
	t.Logf("%d attacks sent", len(attacks))

	// The topics are all still there, the superuser's view (a new client:
	// kafka-go's transport caches the metadata of the one that applied).
	topics, err := c.newAdmin().ListTopics(ctx)
	testenv.Must(t, err, "list topics")
	if _, ok := topics[tp.CivilStatus]; !ok {
		t.Errorf("the civil-status topic is gone: %v", topics)
	}

	t.Run("each does its job", func(t *testing.T) { jobs(t, ctx, c) })
}

// jobs checks each principal does its own job with askonce's own client
// paths: the connectors' writers, the group readers of the materializer,
// the router and the back offices, the lag the materializer reports, the
// API's audit writer, the operator's look at the dead-letter queue.
func jobs(t *testing.T, ctx context.Context, c *cluster) {
	tp := c.topics
	write := func(who, topic string, n int) {
		t.Helper()
		w := c.client(who).Writer(topic)
		defer w.Close()
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "%s-%d", who, i), Value: []byte("v")}
		}
		testenv.Must(t, w.WriteMessages(ctx, msgs...), "%s writes %s", who, topic)
	}
	write("askonce-connect-etatcivil-dc01", tp.CivilStatus, 3)
	write("askonce-connect-cnas-dc03", tp.Employment, 2)
	write("askonce-connect-casnos-dc11", tp.Contribution, 2)
	write("askonce-connect-casnos-dc11", tp.DLQ, 1)
	write(access.MaterializerName, tp.DLQ, 1)
	write(access.RouterName, tp.Notify("cnr"), 2)
	write(access.RouterName, tp.DLQ, 1)
	write(access.APIName, tp.Audit, 1)
	write("askonce-backoffice-cnr", tp.AgencyPortfolio("cnr"), 1)

	consume := func(who, group string, topics []string, want int) {
		t.Helper()
		r := c.client(who).Reader(kafka.ReaderConfig{GroupID: group, GroupTopics: topics, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for i := 0; i < want; i++ {
			m, err := r.FetchMessage(rctx)
			testenv.Must(t, err, "%s reads %v in group %s (message %d of %d)", who, topics, group, i+1, want)
			testenv.Must(t, r.CommitMessages(rctx, m), "%s commits in group %s", who, group)
		}
	}
	consume(access.MaterializerName, "askonce-materialize", tp.Records(), 7)
	lag, err := c.client(access.MaterializerName).GroupLag(ctx, "askonce-materialize", tp.Records())
	testenv.Must(t, err, "the materializer's lag")
	if lag != 0 {
		t.Errorf("materializer's lag %d after reading every record, want 0", lag)
	}
	consume(access.RouterName, "askonce-notify", append(tp.Records(), tp.AgencyPortfolio("cnr")), 7)
	consume("askonce-backoffice-cnr", access.ConsumeGroup("cnr"), []string{tp.Notify("cnr")}, 2)
	consume("askonce-backoffice-cnr", access.ConsumeGroup("cnr")+".pensions", []string{tp.Notify("cnr")}, 2)

	// The operator reads the dead-letter queue as kcat does (no group),
	// sees the topics and describes the groups.
	d := testenv.SASLDialer(t, access.OperatorName, c.password(access.OperatorName))
	if n := len(testenv.ReadTopicWith(t, ctx, d, c.tb.Addr, tp.DLQ)); n != 3 {
		t.Errorf("the operator reads %d DLQ messages, want 3", n)
	}
	op := c.client(access.OperatorName)
	seen, err := op.ListTopics(ctx)
	testenv.Must(t, err, "the operator lists the topics")
	for _, name := range append(tp.Records(), tp.Audit, tp.Notify("cnr")) {
		if _, ok := seen[name]; !ok {
			t.Errorf("the operator does not see %s", name)
		}
	}
	groups, err := op.Admin().DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{"askonce-materialize"}})
	testenv.Must(t, err, "the operator describes the materializer's group")
	if len(groups.Groups) != 1 || groups.Groups[0].Error != nil {
		t.Errorf("the operator describes askonce-materialize: %+v", groups.Groups)
	}
	// A connector sees only the topics it writes.
	conn, err := c.client("askonce-connect-cnas-dc03").ListTopics(ctx)
	testenv.Must(t, err, "a connector lists the topics")
	var names []string
	for n := range conn {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{tp.Contribution, tp.DLQ, tp.Employment}; !slices.Equal(names, want) {
		t.Errorf("a CNAS connector sees %v, want %v", names, want)
	}
}

// TestApply checks Apply is idempotent, removes what the model no longer
// grants (and nothing of principals it does not manage), keeps its state
// across a restart of the broker, and that a wrong password is refused.
func TestApply(t *testing.T) {
	ctx := testenv.Ctx(t, 2*time.Minute)
	c := startCluster(t, ctx)
	n := len(c.m.ACLs())

	res, err := access.Apply(ctx, c.admin.Admin(), c.m, c.dir, nil)
	testenv.Must(t, err, "second apply")
	if len(res.Created) != 0 || len(res.Deleted) != 0 || res.Kept != n || len(res.Credentials) != len(c.m.Principals) {
		t.Fatalf("second apply: %d created, %d deleted, %d kept, %d credentials; want 0, 0, %d, %d",
			len(res.Created), len(res.Deleted), res.Kept, len(res.Credentials), n, len(c.m.Principals))
	}
	// The passwords set again still work.
	testenv.Must(t, c.client(access.APIName).Ping(ctx), "the API's password after a second apply")
	// A mistyped passwords directory is an error, not "no password to set".
	if _, err := access.Apply(ctx, c.admin.Admin(), c.m, filepath.Join(c.dir, "typo"), nil); err == nil || !strings.Contains(err.Error(), "passwords directory") {
		t.Errorf("apply with a missing passwords directory: %v", err)
	}

	// Stale rights: an ACL of a principal the model does not have, a right
	// the model does not give, a Deny; and an ACL of a principal outside
	// askonce, which Apply leaves alone.
	stale := []kafka.ACLEntry{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: c.topics.CivilStatus, ResourcePatternType: kafka.PatternTypeLiteral,
			Principal: "User:askonce-connect-cnas-dc99", Host: "*", Operation: kafka.ACLOperationTypeWrite, PermissionType: kafka.ACLPermissionTypeAllow},
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: c.topics.Audit, ResourcePatternType: kafka.PatternTypeLiteral,
			Principal: "User:" + access.APIName, Host: "*", Operation: kafka.ACLOperationTypeRead, PermissionType: kafka.ACLPermissionTypeAllow},
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: "askonce.", ResourcePatternType: kafka.PatternTypePrefixed,
			Principal: "User:" + access.OperatorName, Host: "10.0.0.1", Operation: kafka.ACLOperationTypeDelete, PermissionType: kafka.ACLPermissionTypeDeny},
	}
	other := kafka.ACLEntry{ResourceType: kafka.ResourceTypeTopic, ResourceName: "other.topic", ResourcePatternType: kafka.PatternTypeLiteral,
		Principal: "User:other-team", Host: "*", Operation: kafka.ACLOperationTypeRead, PermissionType: kafka.ACLPermissionTypeAllow}
	cr, err := c.admin.Admin().CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: append(slices.Clone(stale), other)})
	testenv.Must(t, err, "create stale ACLs")
	testenv.Must(t, errors.Join(cr.Errors...), "create stale ACLs")

	// A right removed from the code: the model without the 11th data
	// center of each agency.
	smaller := c.m
	smaller.Principals = slices.DeleteFunc(slices.Clone(c.m.Principals), func(p access.Principal) bool {
		return p.Kind == access.Connector && p.DataCenter[len(p.DataCenter)-2:] == "11"
	})
	removed := len(c.m.ACLs()) - len(smaller.ACLs())
	if removed != 2+3+3 { // etatcivil's connector writes one record topic, CNAS's and CASNOS's two
		t.Fatalf("the smaller model has %d ACLs fewer, want 8", removed)
	}
	res, err = access.Apply(ctx, c.admin.Admin(), smaller, "", nil)
	testenv.Must(t, err, "apply the smaller model")
	if len(res.Deleted) != removed+len(stale) || len(res.Created) != 0 || len(res.Credentials) != 0 {
		t.Fatalf("apply the smaller model: deleted %v (want %d), created %d, credentials %d", res.Deleted, removed+len(stale), len(res.Created), len(res.Credentials))
	}
	for _, a := range res.Deleted {
		t.Logf("deleted %s", a)
	}
	// The removed connector can no longer publish; the other team keeps
	// its ACL.
	if err := c.produce(ctx, "askonce-connect-cnas-dc11", c.topics.Employment); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("a removed connector publishes: %v", err)
	}
	dr, err := c.admin.Admin().DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
		ResourceTypeFilter: kafka.ResourceTypeAny, ResourcePatternTypeFilter: kafka.PatternTypeAny,
		PrincipalFilter: "User:other-team", Operation: kafka.ACLOperationTypeAny, PermissionType: kafka.ACLPermissionTypeAny}})
	testenv.Must(t, err, "describe the other team's ACLs")
	if len(dr.Resources) != 1 {
		t.Errorf("the other team's ACL: %+v", dr.Resources)
	}

	// A restart keeps the ACLs and the credentials; the full model is
	// applied back, stale ACLs never come back.
	c.tb.Restart()
	c.admin = c.newAdmin()
	res, err = access.Apply(ctx, c.admin.Admin(), c.m, c.dir, nil)
	testenv.Must(t, err, "apply after a restart")
	if len(res.Created) != removed || len(res.Deleted) != 0 || res.Kept != n-removed {
		t.Fatalf("apply after a restart: %d created, %d deleted, %d kept; want %d, 0, %d", len(res.Created), len(res.Deleted), res.Kept, removed, n-removed)
	}
	testenv.Must(t, c.client(access.MaterializerName).Ping(ctx), "the materializer's password after a restart")

	// A wrong password is refused as Kafka refuses it.
	bad, err := bus.New(wiring.Kafka(c.tb.KafkaAs(access.APIName, "not-the-password")))
	testenv.Must(t, err, "client")
	defer bad.Close()
	if err := bad.Ping(ctx); !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Errorf("a wrong password: %v, want SASL authentication failed", err)
	}
	unknown, err := bus.New(wiring.Kafka(c.tb.KafkaAs("askonce-connect-cnas-dc99", "whatever")))
	testenv.Must(t, err, "client")
	defer unknown.Close()
	if err := unknown.Ping(ctx); !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Errorf("an unknown principal: %v, want SASL authentication failed", err)
	}
	// A principal without a password file is reported, its credential
	// left as it is.
	testenv.Must(t, os.Remove(filepath.Join(c.dir, access.RouterName)), "remove a password file")
	res, err = access.Apply(ctx, c.admin.Admin(), c.m, c.dir, nil)
	testenv.Must(t, err, "apply without the router's password file")
	if !slices.Equal(res.NoPassword, []string{access.RouterName}) {
		t.Errorf("no password: %v", res.NoPassword)
	}
}
