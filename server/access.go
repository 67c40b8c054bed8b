package server

import (
	"net/http"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Access to data is one rule for the portal and the API alike: a clinician
// sees their own datasets and analyses, an admin sees everyone's, and
// anything else answers "not found", so ids of other people's data reveal
// nothing.

// canSee reports whether the request's user may see an object of owner.
func canSee(r *http.Request, owner int64) bool {
	u := userFrom(r)
	return u.ID != 0 && (u.ID == owner || u.Role == store.RoleAdmin)
}

// visibleOwner is the owner filter for the request's listings: the user's
// own id, or 0 (everyone) for an admin.
func visibleOwner(r *http.Request) int64 {
	u := userFrom(r)
	if u.Role == store.RoleAdmin {
		return 0
	}
	return u.ID
}
