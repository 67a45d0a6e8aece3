package rules

// Tags are the ticket tags that drive the life cycle (config zendesk.tags).
type Tags struct {
	Request string // asks for a clone
	Approve string // an agent's approval
	Hold    string // an agent holds the request
	Reject  string // an agent rejects it
	// Rollback: an agent restores the sandbox of a ready clone as it was before.
	Rollback string
}

// decisions are the tags whose authors must be agents or admins.
func (t Tags) decisions() []string { return []string{t.Approve, t.Hold, t.Reject} }
