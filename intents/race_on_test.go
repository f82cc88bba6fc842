//go:build race

package intents

// raceEnabled: the race detector is on (sync.Pool then drops items on purpose).
const raceEnabled = true
