package alertd

import (
	"fmt"
	"slices"
)

// ErrUnknownTopic means a topic was named that is not among the configured
// ones.
var ErrUnknownTopic = Errorf(Invalid, "unknown topic")

// CheckTopics returns an error wrapping ErrUnknownTopic, naming the first of
// chosen that is not the id of one of offered.
func CheckTopics(offered []Topic, chosen []string) error {
	for _, id := range chosen {
		if !slices.ContainsFunc(offered, func(t Topic) bool { return t.ID == id }) {
			return fmt.Errorf("%w %q", ErrUnknownTopic, id)
		}
	}
	return nil
}
