package bot

import (
	"errors"
	"fmt"
)

// ErrDuplicate reports a message whose channel id was already processed.
var ErrDuplicate = errors.New("duplicate message")

// ErrBadRating reports a survey answer that is not a score from 1 to 5.
var ErrBadRating = errors.New("rating must be 1 to 5")

// ErrInFlight reports a message that another delivery is handling now (its
// lease has not run out), or took over from this one. It is also
// ErrDuplicate: the channel answers as for a duplicate and sends nothing.
var ErrInFlight = fmt.Errorf("%w: being handled by another delivery", ErrDuplicate)

// ErrNotRated is returned by a Rater that did not take a rating (no agent's
// close to credit it to): the bot keeps the rating on the conversation.
var ErrNotRated = errors.New("rating not taken by the hand-off queue")
