package bot

import "github.com/riverqueue/river"

// registerCapabilities adds the routes of the capability packages.
func (b *Bot) registerCapabilities() error {
	return nil
}

// addWorkers registers the life-cycle workers and returns how many there are.
func (b *Bot) addWorkers(_ *river.Workers) int {
	return 0
}
