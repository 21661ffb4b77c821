package csvdrop

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openNoFollow opens path for reading without following a symbolic link
// (O_NOFOLLOW) and without blocking on a pipe (O_NONBLOCK, no effect on a
// regular file). A link or a socket is refused.
func openNoFollow(path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return nil, &refusal{"a symbolic link: the connector never follows links, it reads only regular files dropped in the directory"}
	case errors.Is(err, syscall.ENXIO):
		return nil, &refusal{"not a regular file (a socket or a device): only regular files dropped in the directory are read"}
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if f == nil {
		return nil, fmt.Errorf("open %s: invalid descriptor", path)
	}
	return f, nil
}
