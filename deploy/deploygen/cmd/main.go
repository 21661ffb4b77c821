// Command deploygen regenerates the generated deployment files under
// deploy/: go run ./deploy/deploygen/cmd (from the repository root).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/askonce/askonce/deploy/deploygen"
)

func main() {
	files, err := deploygen.Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploygen:", err)
		os.Exit(1)
	}
	for _, p := range deploygen.Paths(files) {
		path := filepath.Join("deploy", p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "deploygen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, files[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "deploygen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
