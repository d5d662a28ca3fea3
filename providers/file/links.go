package file

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxLinks bounds the symbolic links followed while resolving one path,
// as the kernel's ELOOP does.
const maxLinks = 40

// dirEntry is a name in a directory. Paths are physical: no symbolic link
// in dir.
type dirEntry struct {
	dir, name string
}

// linkChain returns the directory entries a watch of path depends on: the
// name itself, every symbolic link met while resolving it, and the file it
// resolves to, or, when something on the way is missing, the name that is
// missing. A change to any of them (a link swapped, the file behind the
// links rewritten in place) may change what path reads, so the
// directories that hold them are the ones to watch.
//
// The directory of path is taken as it resolves now; links above it (say
// /var on a system where it is a link) are not followed further. Entries
// in a directory outside within, when within is not "", are left out;
// when that leaves none, the name itself is returned.
func linkChain(path, within string) []dirEntry {
	self := []dirEntry{{filepath.Dir(path), filepath.Base(path)}}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return self
	}
	chain := resolveChain(dir, filepath.Base(path), within)
	if len(chain) == 0 {
		return self
	}
	return chain
}

// resolveChain is linkChain for name in the physical directory dir.
func resolveChain(dir, name, within string) []dirEntry {
	var chain []dirEntry
	add := func(dir, name string) {
		if within == "" || dir == within || strings.HasPrefix(dir, within+string(filepath.Separator)) {
			chain = append(chain, dirEntry{dir, name})
		}
	}
	todo := []string{name}
	for links := 0; len(todo) > 0; {
		part := todo[0]
		todo = todo[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			dir = filepath.Dir(dir)
			continue
		}
		next := filepath.Join(dir, part)
		info, err := os.Lstat(next)
		if err != nil {
			missing := filepath.Join(append([]string{next}, todo...)...)
			add(filepath.Dir(missing), filepath.Base(missing))
			return chain
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			dir = next
			continue
		}
		add(dir, part)
		target, err := os.Readlink(next)
		if links++; err != nil || links > maxLinks {
			return chain
		}
		if filepath.IsAbs(target) {
			dir = filepath.VolumeName(target) + string(filepath.Separator)
		}
		todo = append(strings.Split(filepath.ToSlash(target), "/"), todo...)
	}
	add(filepath.Dir(dir), filepath.Base(dir))
	return chain
}

// chainDirs returns the directories of chain, sorted, each once.
func chainDirs(chain []dirEntry) []string {
	dirs := make([]string, 0, len(chain))
	for _, e := range chain {
		dirs = append(dirs, e.dir)
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}
