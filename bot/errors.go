package bot

import "errors"

// ErrDuplicate reports a message whose channel id was already processed.
var ErrDuplicate = errors.New("duplicate message")
