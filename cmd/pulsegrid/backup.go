package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pulsegrid/pulsegrid/server/store"
)

func init() {
	commands["backup"] = command{
		summary: "write a consistent copy of the database (safe while serve runs)",
		run:     cmdBackup,
	}
}

func cmdBackup(ctx context.Context, e env) error {
	fs := newFlagSet("backup", "backup --data DIR --out FILE", e.stderr)
	data := fs.String("data", "./data", "data directory")
	dbURL := addDBFlag(fs)
	out := fs.String("out", "", "the backup file to write (must not exist)")
	if _, err := parseInterleaved(fs, e.args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("backup: --out FILE is required")
	}
	st, err := openStore(ctx, *data, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	entry := store.AuditEntry{Actor: cliActor(e), Action: "backup", Object: "database", Detail: *out, Address: "local"}
	if err := st.Backup(ctx, *out); err != nil {
		entry.Outcome, entry.Detail = store.OutcomeFailed, *out+": "+err.Error()
		st.Audit(ctx, entry)
		return err
	}
	// The audit entry lands in the live database after the copy was taken.
	if err := st.Audit(ctx, entry); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup written to %s (%d bytes, mode 0600: it holds identities and session tokens); restore by stopping serve and copying it to %s/%s\n", *out, fi.Size(), *data, dbFile)
	return nil
}
