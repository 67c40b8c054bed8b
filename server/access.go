package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Access to data is one rule for the portal and the API alike: a clinician
// sees their own datasets and analyses, an admin sees everyone's, and
// anything else answers "not found", so ids of other people's data reveal
// nothing.

// canSee reports whether the request's user may see an object of owner.
func canSee(r *http.Request, owner int64) bool { return mayAccess(r.Context(), owner) }

// mayAccess reports whether the user of ctx may see an object of owner.
// A signed-in user refused someone else's object is audited (once a
// request): asking for other people's ids is what an insider probing for
// data does.
func mayAccess(ctx context.Context, owner int64) bool {
	u := userOf(ctx)
	ok := u.ID != 0 && (u.ID == owner || u.Role == store.RoleAdmin)
	if !ok && u.ID != 0 {
		auditRefusal(ctx, owner)
	}
	return ok
}

// auditRefusal records that the user of ctx was refused an object of
// owner, at most once a request.
func auditRefusal(ctx context.Context, owner int64) {
	ra, _ := ctx.Value(auditorKey{}).(*requestAudit)
	if ra == nil {
		return
	}
	ra.once.Do(func() {
		auditCtx(ra.d, ctx, "access.refused", ra.request, fmt.Sprintf("owned by user/%d", owner), store.OutcomeRefused)
	})
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
