package lab

import (
	"errors"
	"runtime"

	"github.com/vishvananda/netns"
)

// InNamespace runs f on an OS thread switched to the network namespace
// called name, and switches back: what f opens (sockets, netlink
// connections) belongs to that namespace. If the thread cannot be
// switched back it stays locked, so that Go retires it rather than reuse
// it in the wrong namespace.
func InNamespace(name string, f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
