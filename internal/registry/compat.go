package registry

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// Compatibility levels, with Confluent's meaning.
const (
	Backward           = "BACKWARD"
	BackwardTransitive = "BACKWARD_TRANSITIVE"
	Forward            = "FORWARD"
	ForwardTransitive  = "FORWARD_TRANSITIVE"
	Full               = "FULL"
	FullTransitive     = "FULL_TRANSITIVE"
	None               = "NONE"
)

// Levels lists every compatibility level.
var Levels = []string{Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None}

// ValidLevel tells whether level is a compatibility level (case-insensitive,
// as Confluent accepts it).
func ValidLevel(level string) (string, bool) {
	up := strings.ToUpper(strings.TrimSpace(level))
	for _, l := range Levels {
		if l == up {
			return l, true
		}
	}
	return "", false
}

// Check returns why candidate may not follow existing (oldest first) under
// level; nil when it may.
//   - BACKWARD: consumers using candidate can read data written with the
//     latest version (reader = candidate, writer = latest).
//   - FORWARD: consumers still on the latest version can read data written
//     with candidate.
//   - FULL: both.
//   - *_TRANSITIVE: against every version, not only the latest.
func Check(level string, candidate avro.Schema, existing []avro.Schema) []string {
	if level == None || len(existing) == 0 {
		return nil
	}
	against := existing[len(existing)-1:]
	if strings.HasSuffix(level, "_TRANSITIVE") {
		against = existing
	}
	nums := make([]int, len(against))
	for i := range against {
		nums[i] = len(existing) - len(against) + i + 1
	}
	return checkAgainst(level, candidate, against, nums)
}

// checkAgainst returns why candidate is incompatible under level with each
// of the schemas in against, whatever the level's transitivity: the caller
// chose them. nums are their version numbers, for the messages.
func checkAgainst(level string, candidate avro.Schema, against []avro.Schema, nums []int) []string {
	if level == None {
		return nil
	}
	backward := strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL")
	forward := strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL")
	var reasons []string
	for i, old := range against {
		n := nums[i]
		if backward {
			if err := avro.NewSchemaCompatibility().Compatible(candidate, old); err != nil {
				reasons = append(reasons, fmt.Sprintf("the new schema cannot read data written with version %d: %v", n, err))
			}
		}
		if forward {
			if err := avro.NewSchemaCompatibility().Compatible(old, candidate); err != nil {
				reasons = append(reasons, fmt.Sprintf("readers of version %d cannot read data written with the new schema: %v", n, err))
			}
		}
	}
	return reasons
}
