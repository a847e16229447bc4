package vrrpd

import "github.com/keepalived-go/keepalived-go/internal/track"

// trackSources are where the trackers (internal/track) learn what the
// tracked objects do: the kernel's when zero, fakes in tests.
var trackSources track.Sources
