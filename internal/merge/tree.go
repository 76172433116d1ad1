package merge

import (
	"io/fs"
	"os"
	"path/filepath"
)

// ReadDir loads the package under root as a Tree, with slash-separated
// paths relative to root, as Porch's PackageRevisionResources holds them.
func ReadDir(root string) (Tree, error) {
	tree := Tree{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		tree[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return tree, err
}
