package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/kefu-dev/kefu/report"
)

// Reports answers the supervisors' Reports page: the archive's rollups
// (report.Reporter over the archive; cmd/kefu wires it).
type Reports interface {
	Report(ctx context.Context, q report.Query) (*report.Report, error)
}

// errReportsOff: the console has no reports (Deps.Reports is nil).
var errReportsOff = fmt.Errorf("%w: no archive is configured", ErrNotFound)

// reports is a report, as `kefu report --json` prints it (supervisors).
//
//	GET reports?from=YYYY-MM-DD&to=YYYY-MM-DD&by=day|week|month|hour|channel|group|agent|intent
func (c *Console) reports(w http.ResponseWriter, r *http.Request, _ *session) {
	if c.deps.Reports == nil {
		c.fail(w, r, errReportsOff)
		return
	}
	v := r.URL.Query()
	res, err := c.deps.Reports.Report(r.Context(), report.Query{From: v.Get("from"), To: v.Get("to"), By: v.Get("by")})
	if errors.Is(err, report.ErrBadQuery) {
		err = fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// reportsPage is the Reports page (its data comes from GET api/reports,
// which only supervisors may read).
func (c *Console) reportsPage(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/reports.html")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
