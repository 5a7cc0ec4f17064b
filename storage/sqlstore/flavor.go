package sqlstore

import "strconv"

// ErrorClass is what the store needs to know about a driver error.
type ErrorClass int

const (
	ErrOther      ErrorClass = iota
	ErrUnique                // unique or primary-key violation
	ErrForeignKey            // reference to a missing row
	ErrRetry                 // serialisation failure, deadlock, busy: the transaction may be re-run
)

// Types are the column types a flavour substitutes into shared migrations
// ({{.Time}}, {{.JSON}}, {{.Blob}}, {{.Int64}}).
type Types struct {
	Time  string // instants; TEXT holds them as fixed-width RFC 3339 with microseconds
	JSON  string
	Blob  string
	Int64 string
}

// Flavor describes how one SQL dialect differs; everything else is shared.
type Flavor struct {
	// Name selects per-flavour migration files (NNNN_name.<Name>.sql).
	Name string
	// Numbered placeholders ($1, $2, ...) instead of ?.
	Numbered bool
	Types    Types
	// TimeAsText stores instants as text (SQLite has no time type); otherwise
	// time.Time values are passed to the driver.
	TimeAsText bool
	// ForUpdate is appended to the SELECT of a read-modify-write so the row
	// stays locked until commit; empty where write transactions already
	// exclude each other.
	ForUpdate string
	// PartitionedRegister: the register is partitioned by month; the
	// month's partition is made by register_ensure_month before an append,
	// and retention goes through register_delete_before (both run as the
	// schema owner).
	PartitionedRegister bool
	// AuditAppendFunc: the audit_append function (migration 0030) chains
	// and inserts a batch of audit records in the statement that calls it,
	// under a lock held only until that statement commits, so appenders on
	// several nodes take turns instead of racing for the same sequence
	// numbers.
	AuditAppendFunc bool
	// LocalSyncOff is a condition, true once evaluated, that lets the
	// transaction of the statement evaluating it commit without waiting
	// for the disk (PostgreSQL: synchronous_commit off for that
	// transaction only). A storage.SyncLater write outside a transaction
	// carries it; a later synced commit flushes the log up to and past it.
	// Empty: such writes sync as any other.
	LocalSyncOff string
	// MigrationLock does the same for concurrent migrators.
	MigrationLock string
	// SingleWriter makes the store run one write transaction at a time in
	// this process (SQLite allows only one writer; queueing in Go is fairer
	// than spinning on SQLITE_BUSY).
	SingleWriter bool
	// SyncLater and SyncNow set, on a connection outside any transaction,
	// whether its commits wait for the disk; empty where commits are not
	// ordered on one log, so that a later synced commit could not stand for
	// an unsynced one (see storage.SyncLater). Only with SingleWriter.
	SyncLater, SyncNow string
	// Classify maps a driver error to an ErrorClass.
	Classify func(error) ErrorClass
}

// rebind turns the ? placeholders of a query into $n when the flavour needs
// it. Queries in this package never contain a literal question mark.
func (f *Flavor) rebind(q string) string {
	if !f.Numbered {
		return q
	}
	b := make([]byte, 0, len(q)+8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b = append(b, q[i])
			continue
		}
		n++
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

func (f *Flavor) classify(err error) ErrorClass {
	if err == nil || f.Classify == nil {
		return ErrOther
	}
	return f.Classify(err)
}
