package access_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/internal/access"
	"github.com/askonce/askonce/internal/testenv"
)

// TestOutsiderClient: the ACLs hold against a client that is not
// askonce's: Debian's python3-confluent-kafka (librdkafka), as an agency's
// own software or a stolen credential would use it. A CNAS connector's
// credential writes its agency's topic and nothing else; the API's reads
// nothing; CNR's back office reads its notifications, not CNAS's.
func TestOutsiderClient(t *testing.T) {
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import confluent_kafka (%v: %s): run `make deps` (deploy/devfiles/deps.sh installs python3-confluent-kafka)", py, err, out)
	}
	ctx := testenv.Ctx(t, 2*time.Minute)
	c := startCluster(t, ctx)
	tp := c.topics
	script, err := filepath.Abs(filepath.Join("testdata", "outsider.py"))
	testenv.Must(t, err, "script")
	type attempt struct{ op, topic, want string } // want: "" allowed, else Kafka's error name
	cases := []struct {
		who, group string
		attempts   []attempt
	}{
		// A connector and the API may read no topic (nor use any consumer
		// group): the topic's metadata is refused first.
		{"askonce-connect-cnas-dc01", "askonce-materialize", []attempt{
			{"produce", tp.Employment, ""},
			{"produce", tp.CivilStatus, "TOPIC_AUTHORIZATION_FAILED"},
			{"produce", tp.Audit, "TOPIC_AUTHORIZATION_FAILED"},
			{"produce", tp.AgencyPortfolio("cnr"), "TOPIC_AUTHORIZATION_FAILED"},
			{"read", tp.Notify("cnr"), "TOPIC_AUTHORIZATION_FAILED"},
		}},
		{access.APIName, "askonce-notify", []attempt{
			{"produce", tp.Audit, ""},
			{"read", tp.CivilStatus, "TOPIC_AUTHORIZATION_FAILED"},
			{"produce", tp.CivilStatus, "TOPIC_AUTHORIZATION_FAILED"},
		}},
		// In its own group, the materializer reads the records, not the
		// audit topic nor notifications.
		{access.MaterializerName, "askonce-materialize", []attempt{
			{"read", tp.Employment, ""},
			{"read", tp.Audit, "TOPIC_AUTHORIZATION_FAILED"},
			{"read", tp.Notify("cnr"), "TOPIC_AUTHORIZATION_FAILED"},
			{"produce", tp.CivilStatus, "TOPIC_AUTHORIZATION_FAILED"},
		}},
		{"askonce-backoffice-cnr", access.ConsumeGroup("cnr"), []attempt{
			{"read", tp.Notify("cnr"), ""},
			{"produce", tp.AgencyPortfolio("cnr"), ""},
			{"read", tp.Notify("cnas"), "TOPIC_AUTHORIZATION_FAILED"},
			{"produce", tp.AgencyPortfolio("cnas"), "TOPIC_AUTHORIZATION_FAILED"},
		}},
	}
	// One message in every topic read, written by a
	// principal that may, so that a read that is allowed reads it.
	for _, cs := range cases {
		for _, a := range cs.attempts {
			if a.op != "read" {
				continue
			}
			i := slices.IndexFunc(c.m.Principals, func(p access.Principal) bool { return p.Allows(access.Topic, a.topic, access.Write) })
			if i < 0 {
				t.Fatalf("nobody may write %s", a.topic)
			}
			w := c.client(c.m.Principals[i].Name).Writer(a.topic)
			testenv.Must(t, w.WriteMessages(ctx, kafka.Message{Key: []byte("outsider"), Value: []byte("x")}), "%s writes %s", c.m.Principals[i].Name, a.topic)
			testenv.Must(t, w.Close(), "close")
		}
	}
	for _, cs := range cases {
		args := []string{script, c.tb.Addr, cs.who, c.password(cs.who), cs.group}
		for _, a := range cs.attempts {
			args = append(args, a.op+":"+a.topic)
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, py, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: outsider.py: %v\n%s", cs.who, err, stderr.String())
		}
		var got []struct {
			Op, Topic string
			OK        bool
			Error     *string
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var r struct {
				Op, Topic string
				OK        bool
				Error     *string
			}
			testenv.Must(t, json.Unmarshal(sc.Bytes(), &r), "outsider.py line %q", sc.Text())
			got = append(got, r)
		}
		if len(got) != len(cs.attempts) {
			t.Fatalf("%s: %d answers for %d attempts:\n%s\n%s", cs.who, len(got), len(cs.attempts), out, stderr.String())
		}
		for i, a := range cs.attempts {
			r := got[i]
			errName := ""
			if r.Error != nil {
				errName = *r.Error
			}
			switch {
			case a.want == "" && !r.OK:
				t.Errorf("%s %s %s: refused (%s), want allowed", cs.who, a.op, a.topic, errName)
			case a.want != "" && (r.OK || errName != a.want):
				t.Errorf("%s %s %s: ok=%v error=%q, want %s", cs.who, a.op, a.topic, r.OK, errName, a.want)
			default:
				t.Logf("%s %s %s: ok=%v %s", cs.who, a.op, a.topic, r.OK, errName)
			}
		}
	}
}
