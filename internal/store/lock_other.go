//go:build !unix

package store

import (
	"errors"
	"os"
)

// lockFile is not available here: without a lock a live process's sent log
// cannot be told from a dead one's, so no sent log is kept, and the
// delivery engine records every sent message in the database instead.
func lockFile(*os.File) error {
	return errors.New("sent logs need flock(2), which this system lacks")
}
