package lookup

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// pgtypeInterval scans a nullable interval into a duration.
type pgtypeInterval struct{ d *time.Duration }

func (i *pgtypeInterval) ScanInterval(v pgtype.Interval) error {
	if !v.Valid {
		i.d = nil
		return nil
	}
	d := time.Duration(v.Microseconds)*time.Microsecond + time.Duration(v.Days)*24*time.Hour
	i.d = &d
	return nil
}
