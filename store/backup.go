package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"jamd/appliance"
)

var _ appliance.Snapshotter = (*DB)(nil)

// WriteTo writes a consistent copy of the whole database to w, a valid bbolt file as of one
// moment, while writes go on: it is one read transaction, which bbolt lets run beside commits
// (the pages it reads are not reused until it ends).
func (d *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("copy the session database: %w", err)
	}
	return n, nil
}

// Size is the size of the database file on disk, in bytes.
func (d *DB) Size() (int64, error) {
	fi, err := os.Stat(d.db.Path())
	if err != nil {
		return 0, fmt.Errorf("stat the session database: %w", err)
	}
	return fi.Size(), nil
}

// Check opens the bbolt file at path read-only and decodes every session in it, as jamd would
// at start. It returns how many sessions the file holds, or why jamd could not start on it.
func Check(path string) (sessions int, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("cannot read %s: %w", path, errors.Unwrap(err))
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, fmt.Errorf("%s is in use by a running jamd", path)
	}
	if err != nil {
		return 0, fmt.Errorf("%s is not a jamd session database: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(sessionsBucket) == nil {
			return fmt.Errorf("%s has no sessions bucket: it is not a jamd session database", path)
		}
		if err := readSessions(tx, func(*appliance.Session) { sessions++ }); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	return sessions, err
}

// ErrInUse is returned by Restore while a jamd holds the database it would replace.
var ErrInUse = errors.New("store: the session database is in use")

// Restore puts the backup at src in place of the database at dst, atomically: src is checked
// (Check), copied next to dst with dst's owner and mode 0600, synced, and renamed over dst, so a
// crash leaves either the old database or the new one. It refuses with ErrInUse while a jamd
// holds dst (bbolt's file lock), and keeps the database it replaces as dst+".before-restore".
// It returns how many sessions the restored database holds.
func Restore(src, dst string) (sessions int, err error) {
	sessions, err = Check(src)
	if err != nil {
		return 0, err
	}
	// Hold dst's lock while replacing it, so no jamd starts on the old file meanwhile.
	if _, err := os.Stat(dst); err == nil {
		unlock, err := lockFile(dst)
		if err != nil {
			return 0, err
		}
		defer unlock()
		before := dst + ".before-restore"
		os.Remove(before)
		if err := os.Link(dst, before); err != nil {
			return 0, fmt.Errorf("cannot keep the old database as %s: %w", before, errors.Unwrap(err))
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return 0, fmt.Errorf("cannot write in %s: %w", filepath.Dir(dst), errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := copyInto(tmp, src); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("cannot put the backup in place: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(dst)); err == nil {
		dir.Sync() // the rename itself is on disk
		dir.Close()
	}
	return sessions, nil
}

// copyInto copies src into f, gives f the owner of the directory it is in (jamd's, when root
// restores for a service running as the jamd user) and syncs it.
func copyInto(f *os.File, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", src, errors.Unwrap(err))
	}
	defer in.Close()
	if _, err := io.Copy(f, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Dir(f.Name())); err == nil && os.Geteuid() == 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
				return fmt.Errorf("give %s to the data dir's owner: %w", f.Name(), err)
			}
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	return nil
}

// lockFile takes the lock a jamd takes on its database (bbolt's exclusive flock), without
// waiting: it fails with ErrInUse while a jamd holds it, and keeps a jamd from starting on the
// file until unlock. It works on a file that bbolt could not open (a damaged one).
func lockFile(path string) (unlock func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the database to replace, %s: %w", path, errors.Unwrap(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, path)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
