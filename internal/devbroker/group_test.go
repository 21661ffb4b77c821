package devbroker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeadJoinerExpires: a consumer killed while its JoinGroup waits for
// a rebalance must leave the group after its session timeout, as on a
// real Kafka broker. The embedded broker used to keep it (with its share
// of the partitions) for ever once the leader had synced: `make chaos`,
// which SIGKILLs materializers seconds apart, saw half the record
// partitions stop being applied (third_party/kfake/README.askonce.md).
func TestDeadJoinerExpires(t *testing.T) {
	cfg := Config{DefaultPartitions: 12}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	b, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const group = "dead-joiner"
	const session = 6000 // ms
	client := func() *kgo.Client {
		c, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// join sends JoinGroup until the broker stops asking for a member id.
	join := func(c *kgo.Client, member string) *kmsg.JoinGroupResponse {
		for {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.MemberID, req.ProtocolType = group, member, "consumer"
			req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = session, 10000
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name = "range"
			req.Protocols = append(req.Protocols, p)
			resp, err := req.RequestWith(ctx, c)
			if err != nil {
				t.Fatalf("join: %v", err)
			}
			if resp.ErrorCode == kerr.MemberIDRequired.Code {
				member = resp.MemberID
				continue
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
				t.Fatalf("join: %v", err)
			}
			return resp
		}
	}
	syncAsLeader := func(c *kgo.Client, jr *kmsg.JoinGroupResponse) {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group, req.MemberID, req.Generation = group, jr.MemberID, jr.Generation
		for _, m := range jr.Members {
			a := kmsg.NewSyncGroupRequestGroupAssignment()
			a.MemberID = m.MemberID
			req.GroupAssignment = append(req.GroupAssignment, a)
		}
		resp, err := req.RequestWith(ctx, c)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("sync: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	members := func() []string {
		c := client()
		defer c.Close()
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, c)
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		var ids []string
		for _, m := range resp.Groups[0].Members {
			ids = append(ids, m.MemberID)
		}
		return ids
	}

	// A becomes the leader of a stable group.
	a := client()
	defer a.Close()
	jr := join(a, "")
	syncAsLeader(a, jr)
	leader := jr.MemberID

	// B gets a member id, then sends the JoinGroup that starts a
	// rebalance and is killed while that JoinGroup waits for A.
	b2 := client()
	pre := kmsg.NewPtrJoinGroupRequest()
	pre.Group, pre.ProtocolType, pre.SessionTimeoutMillis, pre.RebalanceTimeoutMillis = group, "consumer", session, 10000
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	pre.Protocols = append(pre.Protocols, p)
	r, err := pre.RequestWith(ctx, b2)
	if err != nil || r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join of B: %v, code %d", err, r.ErrorCode)
	}
	second := *pre
	second.MemberID = r.MemberID
	sent := make(chan struct{})
	go func() {
		close(sent)
		second.RequestWith(ctx, b2) //nolint:errcheck // B dies before the answer
	}()
	<-sent
	time.Sleep(300 * time.Millisecond) // the JoinGroup is at the broker, waiting
	b2.Close()

	// A learns of the rebalance, rejoins and, as leader, syncs: the
	// generation completes with B in it although B is gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = group, leader, jr.Generation
		resp, err := hb.RequestWith(ctx, a)
		if err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if resp.ErrorCode == kerr.RebalanceInProgress.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no rebalance after B's join")
		}
		time.Sleep(200 * time.Millisecond)
	}
	jr = join(a, leader)
	if len(jr.Members) != 2 {
		t.Fatalf("the rebalance after B's join has %d members, want 2 (A and the dead B)", len(jr.Members))
	}
	syncAsLeader(a, jr)

	// B never heartbeats: it must be gone after its session timeout,
	// while A, which keeps heartbeating (and rejoins), stays.
	gen := jr.Generation
	deadline = time.Now().Add(3 * session * time.Millisecond)
	for {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = group, leader, gen
		if resp, err := hb.RequestWith(ctx, a); err == nil && resp.ErrorCode == kerr.RebalanceInProgress.Code {
			jr = join(a, leader)
			syncAsLeader(a, jr)
			gen = jr.Generation
		}
		ids := members()
		if len(ids) == 1 && ids[0] == leader {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead member is still in the group %s after its %d ms session timeout: members %v", 3*session*time.Millisecond, session, ids)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
