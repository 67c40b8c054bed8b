package main

import (
	"context"
	"fmt"
	"os"
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
	out := fs.String("out", "", "the backup file to write (must not exist)")
	if _, err := parseInterleaved(fs, e.args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("backup: --out FILE is required")
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, *out); err != nil {
		return err
	}
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup written to %s (%d bytes); restore by stopping serve and copying it to %s/%s\n", *out, fi.Size(), *data, dbFile)
	return nil
}
