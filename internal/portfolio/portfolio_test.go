package portfolio_test

import (
	"slices"
	"testing"
	"time"

	"github.com/askonce/askonce/internal/dbroles"
	"github.com/askonce/askonce/internal/portfolio"
	"github.com/askonce/askonce/internal/testenv"
)

const nin = "109509916000010137"

func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		m     portfolio.Member
		codes []string
	}{
		{"ok", portfolio.Member{NIN: nin, Purpose: "pension-death-watch", Kinds: []string{"DIVORCE", "DEATH", "DEATH"}}, nil},
		{"bad nin", portfolio.Member{NIN: "10950991600001013", Purpose: "pension-death-watch", Kinds: []string{"DEATH"}}, []string{"nin.format"}},
		{"unknown purpose", portfolio.Member{NIN: nin, Purpose: "pension-award", Kinds: []string{"DEATH"}}, []string{"purpose.unknown"}},
		{"no kinds", portfolio.Member{NIN: nin, Purpose: "insured-events"}, []string{"kinds.empty"}},
		{"unknown kind", portfolio.Member{NIN: nin, Purpose: "insured-events", Kinds: []string{"WEDDING"}}, []string{"kinds.unknown"}},
		{"kind outside the purpose", portfolio.Member{NIN: nin, Purpose: "pension-death-watch", Kinds: []string{"EMPLOYMENT_START"}}, []string{"kinds.purpose"}},
	}
	for _, tc := range cases {
		m := tc.m
		var codes []string
		for _, e := range m.Check() {
			codes = append(codes, e.Code)
		}
		if !slices.Equal(codes, tc.codes) {
			t.Errorf("%s: %v, want %v", tc.name, codes, tc.codes)
		}
		if tc.codes == nil && !slices.Equal(m.Kinds, []string{"DEATH", "DIVORCE"}) {
			t.Errorf("%s: kinds %v not normalized", tc.name, m.Kinds)
		}
	}
}

// TestChangeOrder: a change applies only when newer than the stored one,
// so replays and out-of-order delivery of askonce.portfolio.<agency> change
// nothing, and a removed member stays removed.
func TestChangeOrder(t *testing.T) {
	ctx := testenv.Ctx(t, time.Minute)
	// Migrated as `askonce migrate` does; the component logs in with its role.
	pool := testenv.Database(t, portfolio.Migrate).Pool(t, dbroles.API)
	st := portfolio.NewStore(pool)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := portfolio.Member{Agency: "cnr", NIN: nin, Purpose: "pension-death-watch", Kinds: []string{"DEATH"}}
	step := func(name string, applied bool, wantApplied bool) {
		t.Helper()
		if applied != wantApplied {
			t.Errorf("%s: applied %v, want %v", name, applied, wantApplied)
		}
	}
	_, ok, err := portfolio.Put(ctx, pool, m, t0.Add(time.Hour), "t")
	testenv.Must(t, err, "put")
	step("put", ok, true)
	ok, err = portfolio.Delete(ctx, pool, "cnr", nin, t0, "t")
	testenv.Must(t, err, "delete")
	step("older delete", ok, false)
	if _, found, _ := st.Get(ctx, "cnr", nin); !found {
		t.Fatal("an older delete removed the member")
	}
	ok, err = portfolio.Delete(ctx, pool, "cnr", nin, t0.Add(2*time.Hour), "t")
	testenv.Must(t, err, "delete")
	step("newer delete of a member", ok, true)
	_, ok, err = portfolio.Put(ctx, pool, m, t0.Add(time.Hour), "t")
	testenv.Must(t, err, "put")
	step("replayed put", ok, false)
	if _, found, _ := st.Get(ctx, "cnr", nin); found {
		t.Fatal("a replayed put brought the member back")
	}
	ok, err = portfolio.Delete(ctx, pool, "cnr", nin, t0.Add(3*time.Hour), "t")
	testenv.Must(t, err, "delete")
	step("delete of a non-member", ok, false)
	added, err := st.Put(ctx, m, "api")
	testenv.Must(t, err, "put now")
	if added.AddedAt.Before(t0.Add(3 * time.Hour)) {
		t.Errorf("re-added member keeps its old added_at %s", added.AddedAt)
	}
	sizes, err := st.Sizes(ctx)
	testenv.Must(t, err, "sizes")
	if sizes["cnr"] != 1 {
		t.Errorf("sizes %v", sizes)
	}
	list, err := st.List(ctx, "cnr", "", 10)
	testenv.Must(t, err, "list")
	if len(list) != 1 || list[0].NIN != nin {
		t.Errorf("list %v", list)
	}
}
