// gotree: the Go side of NORA's Go module tests and bench, built offline from Debian's
// golang-golang-x-mod-dev (GO111MODULE=off GOPATH=/usr/share/gocode go build).
//
//	gotree tree <spec> <out>   writes a static GOPROXY tree (<out>/<escaped module>/@v/list,
//	                           <v>.info, <v>.mod, <v>.zip made by golang.org/x/mod/zip) from
//	                           spec lines "<module> <version> <dir>", adding every version the
//	                           modules' go.mod files require of modules in the spec (same dir).
//	gotree sumdb <name> <tree> serves a checksum database (golang.org/x/mod/sumdb test server,
//	                           a fresh note key) over the tree's modules on 127.0.0.1; prints
//	                           "READY <url> <verifier key>" and logs "REQ <path>" per request.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	modzip "golang.org/x/mod/zip"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: gotree tree <spec> <out> | gotree sumdb <name> <tree>")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "tree":
		err = tree(os.Args[2], os.Args[3])
	case "sumdb":
		err = serveSumdb(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotree:", err)
		os.Exit(1)
	}
}

func tree(specFile, out string) error {
	f, err := os.Open(specFile)
	if err != nil {
		return err
	}
	defer f.Close()
	dirs := map[string]string{}
	var queue []module.Version
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		dirs[fields[0]] = fields[2]
		queue = append(queue, module.Version{Path: fields[0], Version: fields[1]})
	}
	seen := map[module.Version]bool{}
	versions := map[string][]string{}
	for len(queue) > 0 {
		mv := queue[0]
		queue = queue[1:]
		if seen[mv] {
			continue
		}
		seen[mv] = true
		dir := dirs[mv.Path]
		modBytes, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if os.IsNotExist(err) {
			modBytes = []byte(fmt.Sprintf("module %s\n", modfile.AutoQuote(mv.Path)))
		} else if err != nil {
			return err
		}
		mf, err := modfile.ParseLax("go.mod", modBytes, nil)
		if err != nil {
			return fmt.Errorf("%s: %v", mv, err)
		}
		for _, r := range mf.Require {
			if _, ok := dirs[r.Mod.Path]; ok && !seen[r.Mod] {
				queue = append(queue, r.Mod)
			}
		}
		esc, err := module.EscapePath(mv.Path)
		if err != nil {
			return err
		}
		escV, err := module.EscapeVersion(mv.Version)
		if err != nil {
			return err
		}
		vdir := filepath.Join(out, esc, "@v")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, escV+".mod"), modBytes, 0o644); err != nil {
			return err
		}
		info, _ := json.Marshal(map[string]string{"Version": mv.Version, "Time": "2022-01-01T00:00:00Z"})
		if err := os.WriteFile(filepath.Join(vdir, escV+".info"), info, 0o644); err != nil {
			return err
		}
		zf, err := os.Create(filepath.Join(vdir, escV+".zip"))
		if err != nil {
			return err
		}
		if err := modzip.CreateFromDir(zf, mv, dir); err != nil {
			zf.Close()
			return fmt.Errorf("%s: %v", mv, err)
		}
		if err := zf.Close(); err != nil {
			return err
		}
		if !module.IsPseudoVersion(mv.Version) {
			versions[mv.Path] = append(versions[mv.Path], mv.Version)
		}
		if _, ok := versions[mv.Path]; !ok {
			versions[mv.Path] = nil
		}
	}
	for path, vs := range versions {
		sort.Slice(vs, func(i, j int) bool { return semver.Compare(vs[i], vs[j]) < 0 })
		esc, _ := module.EscapePath(path)
		body := ""
		for _, v := range vs {
			body += v + "\n"
		}
		if err := os.WriteFile(filepath.Join(out, esc, "@v", "list"), []byte(body), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%d module versions\n", len(seen))
	return nil
}

func serveSumdb(name, treeDir string) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return err
	}
	gosum := func(path, vers string) ([]byte, error) {
		esc, err := module.EscapePath(path)
		if err != nil {
			return nil, err
		}
		escV, err := module.EscapeVersion(vers)
		if err != nil {
			return nil, err
		}
		base := filepath.Join(treeDir, esc, "@v", escV)
		if _, err := os.Stat(base + ".zip"); err != nil {
			return nil, err // os.ErrNotExist: the server answers 404
		}
		h, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
		if err != nil {
			return nil, err
		}
		hm, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
			return os.Open(base + ".mod")
		})
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, vers, h, path, vers, hm)), nil
	}
	ops := sumdb.NewTestServer(skey, gosum)
	// Every module version of the tree is recorded before serving, in a fixed order: the test
	// server otherwise adds records on first lookup, so the tree (and the partial tiles a client
	// asks for) would grow during a build and a later build from cached lookups could need a
	// tile width nobody fetched.
	err = filepath.WalkDir(treeDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zip") {
			return err
		}
		rel, err := filepath.Rel(treeDir, p)
		if err != nil {
			return err
		}
		at := strings.LastIndex(rel, "/@v/")
		if at < 0 {
			return nil
		}
		path, err := module.UnescapePath(rel[:at])
		if err != nil {
			return nil
		}
		vers, err := module.UnescapeVersion(strings.TrimSuffix(rel[at+len("/@v/"):], ".zip"))
		if err != nil {
			return nil
		}
		_, err = ops.Lookup(context.Background(), module.Version{Path: path, Version: vers})
		return err
	})
	if err != nil {
		return err
	}
	server := sumdb.NewServer(ops)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("READY http://%s %s\n", ln.Addr().String(), vkey)
	os.Stdout.Sync()
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(os.Stderr, "REQ %s\n", r.URL.Path)
		server.ServeHTTP(w, r)
	}))
}
