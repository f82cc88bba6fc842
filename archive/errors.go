package archive

import "errors"

var (
	// ErrNotFound: no conversation with that id is archived.
	ErrNotFound = errors.New("archive: conversation not found")
	// ErrBadEvent: an event lacks its id or conversation, or a field it needs
	// does not parse. The whole batch it came in is refused.
	ErrBadEvent = errors.New("archive: bad event")
	// ErrBadCursor: Query.After is not a cursor Search gave.
	ErrBadCursor = errors.New("archive: bad cursor")
	// ErrBadDSN: the DSN is neither postgres://… nor an SQLite path.
	ErrBadDSN = errors.New("archive: bad dsn")
)
