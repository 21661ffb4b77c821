package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPUUse is the CPU time each party spent during a measured window: the
// component under test (the lookup API process), the PostgreSQL server
// (postmaster and its backends), and this process (the load generator,
// plus the embedded broker and registry, idle during lookup levels).
type CPUUse struct {
	Component, Postgres, Bench time.Duration
	// Known is false when PostgreSQL's processes could not be read (an
	// external server): Postgres is then 0.
	Known bool
}

// Total is the CPU time of every party.
func (c CPUUse) Total() time.Duration { return c.Component + c.Postgres + c.Bench }

// cpuMeter snapshots the CPU time of the parties.
type cpuMeter struct {
	postmaster int // pid of the private PostgreSQL's postmaster (0 unknown)
}

type cpuSnap struct {
	component, postgres, self time.Duration
	pgKnown                   bool
}

// clockTick is the unit of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the user+system time of pid, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick, ppid, true
}

// postgresCPU sums the CPU time of the postmaster pm and its children.
func postgresCPU(pm int) (time.Duration, bool) {
	if pm <= 0 {
		return 0, false
	}
	total, _, ok := procCPU(pm)
	if !ok {
		return 0, false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pm {
			continue
		}
		if t, ppid, ok := procCPU(pid); ok && ppid == pm {
			total += t
		}
	}
	return total, true
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) snap(componentPID int) cpuSnap {
	var s cpuSnap
	if m == nil {
		return s
	}
	if componentPID > 0 {
		s.component, _, _ = procCPU(componentPID)
	}
	s.postgres, s.pgKnown = postgresCPU(m.postmaster)
	s.self = selfCPU()
	return s
}

func (a cpuSnap) to(b cpuSnap) CPUUse {
	return CPUUse{Component: b.component - a.component, Postgres: b.postgres - a.postgres, Bench: b.self - a.self, Known: a.pgKnown && b.pgKnown}
}
