package bot

import "errors"

// ErrDuplicate reports a message whose channel id was already processed.
var ErrDuplicate = errors.New("duplicate message")

// ErrBadRating reports a survey answer that is not a score from 1 to 5.
var ErrBadRating = errors.New("rating must be 1 to 5")
