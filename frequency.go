package alertd

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultFrequency is the id of the one frequency an installation has when
// none is configured: the digest on digest.schedule.
const DefaultFrequency = "weekly"

// Frequency is one series of digests readers may choose: its own schedule,
// its own digests, each report announced once in it.
type Frequency struct {
	ID       string `json:"id" toml:"id"`
	Name     string `json:"name" toml:"name"`
	Schedule string `json:"schedule" toml:"schedule"`
}

// ErrUnknownFrequency means a frequency was named that is not among the
// configured ones.
var ErrUnknownFrequency = Errorf(Invalid, "unknown frequency")

// ChooseFrequency returns the id of the frequency named by id among
// offered: the only one when id is empty and there is one; an error of
// code Invalid when id is empty among several, or names none of them.
func ChooseFrequency(offered []Frequency, id string) (string, error) {
	if id == "" {
		if len(offered) == 1 {
			return offered[0].ID, nil
		}
		return "", Errorf(Invalid, "several frequencies are configured (%s); name one", frequencyIDs(offered))
	}
	if !slices.ContainsFunc(offered, func(f Frequency) bool { return f.ID == id }) {
		return "", fmt.Errorf("%w %q (configured: %s)", ErrUnknownFrequency, id, frequencyIDs(offered))
	}
	return id, nil
}

func frequencyIDs(offered []Frequency) string {
	ids := make([]string, len(offered))
	for i, f := range offered {
		ids[i] = f.ID
	}
	return strings.Join(ids, ", ")
}
