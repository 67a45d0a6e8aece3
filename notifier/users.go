package notifier

import (
	"context"
	"fmt"
	"slices"

	"github.com/gaiia/clonebot/parser"
)

// User is what the bot reads of a Zendesk user to decide whether it may act.
type User struct {
	ID   int64
	Role parser.Role
	// Active is false for a deleted user; Suspended users cannot sign in.
	Active, Suspended bool
	// OrganizationID is the user's default organization, 0 if none.
	OrganizationID int64
}

type userBody struct {
	User struct {
		ID             int64  `json:"id"`
		Role           string `json:"role"`
		Active         bool   `json:"active"`
		Suspended      bool   `json:"suspended"`
		OrganizationID *int64 `json:"organization_id"`
	} `json:"user"`
}

// User reads a user. A user deleted for good is ErrNotFound.
func (c *Client) User(ctx context.Context, id int64) (User, error) {
	var b userBody
	if err := c.do(ctx, "GET", fmt.Sprintf("/users/%d.json", id), "", nil, &b); err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	u := User{ID: b.User.ID, Role: parser.Role(b.User.Role), Active: b.User.Active, Suspended: b.User.Suspended}
	if b.User.OrganizationID != nil {
		u.OrganizationID = *b.User.OrganizationID
	}
	return u, nil
}

type membershipPage struct {
	Memberships []struct {
		OrganizationID int64 `json:"organization_id"`
	} `json:"organization_memberships"`
}

// Organizations lists the organizations a user belongs to: its default one and
// every membership, reading all pages.
func (c *Client) Organizations(ctx context.Context, userID int64) ([]int64, error) {
	u, err := c.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	var orgs []int64
	if u.OrganizationID != 0 {
		orgs = append(orgs, u.OrganizationID)
	}
	err = eachPage(ctx, c, fmt.Sprintf("/users/%d/organization_memberships.json", userID), nil, func(p membershipPage) bool {
		for _, m := range p.Memberships {
			if !slices.Contains(orgs, m.OrganizationID) {
				orgs = append(orgs, m.OrganizationID)
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list organizations of user %d: %w", userID, err)
	}
	return orgs, nil
}
