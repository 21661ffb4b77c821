package synth

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Act kinds numbered per (synthetic commune, register year).
const (
	actBirth = iota
	actMarriage
	actDeath
)

var actKindNames = [...]string{"birth", "marriage", "death"}

// actEntry is one act to number: acts of a commune and year are numbered
// 1, 2, ... in date order, as a register is.
type actEntry struct {
	key  uint32 // kind<<24 | wilaya<<16 | year-1800
	date day
	gi   int64
}

func actKey(kind, w, year int) uint32 { return uint32(kind)<<24 | uint32(w)<<16 | uint32(year-1800) }

// prepare is pass 1: it generates every block once (in parallel), numbers
// the birth, marriage and death acts, and counts the rows each data center
// and table will get (for progress). It needs no database.
func (pl *plan) prepare(ctx context.Context, workers int) (totals []int64, err error) {
	workers = max(1, workers)
	ndc := len(Agencies) * pl.nRegions
	var next atomic.Int64
	parts := make([][]actEntry, workers)
	counts := make([]*chunk, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(pl)
			em := newEmitter(pl)
			em.countOnly = true
			em.out = newChunk(ndc)
			counts[w] = em.out
			var acts []actEntry
			for {
				b := int(next.Add(1) - 1)
				if b >= pl.blocks || ctx.Err() != nil {
					break
				}
				g.block(b)
				for i := range g.ps {
					p := &g.ps[i]
					gi := g.base + int64(i)
					acts = append(acts, actEntry{actKey(actBirth, int(p.birthW), p.actYear()), p.reg, gi})
					if p.spouse >= 0 && p.sex == 'F' {
						acts = append(acts, actEntry{actKey(actMarriage, int(p.marriageW), p.married.Year()), p.married, gi})
					}
					if p.death != noDay {
						acts = append(acts, actEntry{actKey(actDeath, int(p.resW), p.death.Year()), p.death, gi})
					}
				}
				em.block(g)
			}
			parts[w] = acts
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	all := make([]actEntry, 0, n)
	for i, p := range parts {
		all = append(all, p...)
		parts[i] = nil
	}
	slices.SortFunc(all, func(a, b actEntry) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := cmp.Compare(a.date, b.date); c != 0 {
			return c
		}
		return cmp.Compare(a.gi, b.gi)
	})
	pl.birthAct = make([]int32, pl.p.Persons)
	pl.marriageAct = make([]int32, pl.p.Persons)
	pl.deathAct = make([]int32, pl.p.Persons)
	var cur uint32
	num := int32(0)
	for i, e := range all {
		if i == 0 || e.key != cur {
			cur, num = e.key, 0
		}
		num++
		if num > 99999 {
			kind, w, y := e.key>>24, e.key>>16&0xff, int(e.key&0xffff)+1800
			return nil, fmt.Errorf("synth: more than 99999 %s acts in synthetic commune %s in %d: too many persons for one synthetic commune per wilaya",
				actKindNames[kind], syntheticCommune(int(w)), y)
		}
		switch e.key >> 24 {
		case actBirth:
			pl.birthAct[e.gi] = num
		case actMarriage:
			pl.marriageAct[e.gi] = num
		case actDeath:
			pl.deathAct[e.gi] = num
		}
	}
	totals = make([]int64, ndc*int(numTables))
	for _, c := range counts {
		for k, v := range c.rows {
			totals[k] += v
		}
	}
	return totals, nil
}
