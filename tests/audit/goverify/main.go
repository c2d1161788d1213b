// goverify checks tradingdesk's audit log with verifiers nobody on the project wrote: the Go team's
// golang.org/x/mod/sumdb/note (signed notes, Ed25519) and golang.org/x/mod/sumdb/tlog (RFC 6962/9162 trees).
//
//	goverify bucket VKEY DIR     recompute each segment's tree from its records with tlog, open each signed
//	                             checkpoint with note, and check each consistency proof with tlog.CheckTree
//	goverify proofs VKEY FILE    check inclusion and consistency proofs (JSON, as served by ComplianceService)
//	                             against signed checkpoints
//
// It prints one line per check and "ok" at the end, or the first failure and exits 1.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies the signed note with the verifier key, then parses the C2SP tlog-checkpoint body.
func openCheckpoint(text string, verifier note.Verifier) checkpoint {
	n, err := note.Open([]byte(text), note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint body has too few lines: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		fail("checkpoint size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("checkpoint root hash %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{origin: lines[0], size: size, root: root}
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != tlog.HashSize {
			fail("proof hash %q", s)
		}
		copy(out[i][:], raw)
	}
	return out
}

type header struct {
	Start       int64    `json:"start"`
	End         int64    `json:"end"`
	Checkpoint  string   `json:"checkpoint"`
	Consistency []string `json:"consistency"`
}

func verifyBucket(verifier note.Verifier, dir string) {
	names, err := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if err != nil || len(names) == 0 {
		fail("no segments in %s", dir)
	}
	sort.Strings(names)
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	})
	var size int64
	var previous *checkpoint
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			fail("%s: %v", name, err)
		}
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(make([]byte, 1<<20), 1<<30)
		scanner.Scan()
		var h header
		if err := json.Unmarshal(scanner.Bytes(), &h); err != nil {
			fail("%s: header: %v", name, err)
		}
		if h.Start != size {
			fail("%s starts at %d, the tree has %d records", name, h.Start, size)
		}
		for scanner.Scan() {
			more, err := tlog.StoredHashes(size, scanner.Bytes(), reader)
			if err != nil {
				fail("%s: StoredHashes: %v", name, err)
			}
			stored = append(stored, more...)
			size++
		}
		cp := openCheckpoint(h.Checkpoint, verifier)
		if cp.size != size || cp.size != h.End {
			fail("%s: checkpoint size %d, records up to %d, range end %d", name, cp.size, size, h.End)
		}
		root, err := tlog.TreeHash(size, reader)
		if err != nil {
			fail("%s: TreeHash: %v", name, err)
		}
		if root != cp.root {
			fail("%s: tlog computes root %v, the checkpoint signs %v", name, root, cp.root)
		}
		if previous != nil {
			if err := tlog.CheckTree(hashes(h.Consistency), cp.size, cp.root, previous.size, previous.root); err != nil {
				fail("%s: CheckTree %d -> %d: %v", name, previous.size, cp.size, err)
			}
		}
		fmt.Printf("segment %d-%d: root and signature ok, consistent with the previous checkpoint\n", h.Start, h.End)
		previous = &cp
	}
	fmt.Printf("ok: %d records in %d segments\n", size, len(names))
}

type proofs struct {
	Checkpoints []string `json:"checkpoints"`
	Inclusion   []struct {
		Index    int64    `json:"index"`
		TreeSize int64    `json:"tree_size"`
		Record   string   `json:"record"`
		Hashes   []string `json:"hashes"`
	} `json:"inclusion"`
	Consistency []struct {
		OldSize int64    `json:"old_size"`
		NewSize int64    `json:"new_size"`
		OldRoot string   `json:"old_root"`
		Hashes  []string `json:"hashes"`
	} `json:"consistency"`
}

func verifyProofs(verifier note.Verifier, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	var p proofs
	if err := json.Unmarshal(data, &p); err != nil {
		fail("%s: %v", file, err)
	}
	signed := map[int64]tlog.Hash{}
	for _, text := range p.Checkpoints {
		cp := openCheckpoint(text, verifier)
		signed[cp.size] = cp.root
	}
	for _, inc := range p.Inclusion {
		root, ok := signed[inc.TreeSize]
		if !ok {
			fail("no signed checkpoint of size %d", inc.TreeSize)
		}
		record, err := base64.StdEncoding.DecodeString(inc.Record)
		if err != nil {
			fail("record: %v", err)
		}
		if err := tlog.CheckRecord(hashes(inc.Hashes), inc.TreeSize, root, inc.Index, tlog.RecordHash(record)); err != nil {
			fail("CheckRecord %d in %d: %v", inc.Index, inc.TreeSize, err)
		}
		fmt.Printf("inclusion of record %d in tree %d: ok\n", inc.Index, inc.TreeSize)
	}
	for _, c := range p.Consistency {
		root, ok := signed[c.NewSize]
		if !ok {
			fail("no signed checkpoint of size %d", c.NewSize)
		}
		old := hashes([]string{c.OldRoot})[0]
		if oldSigned, ok := signed[c.OldSize]; ok && oldSigned != old {
			fail("old root of %d differs from its signed checkpoint", c.OldSize)
		}
		if err := tlog.CheckTree(hashes(c.Hashes), c.NewSize, root, c.OldSize, old); err != nil {
			fail("CheckTree %d -> %d: %v", c.OldSize, c.NewSize, err)
		}
		fmt.Printf("consistency %d -> %d: ok\n", c.OldSize, c.NewSize)
	}
	fmt.Printf("ok: %d inclusion and %d consistency proofs\n", len(p.Inclusion), len(p.Consistency))
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goverify bucket|proofs VKEY DIR|FILE")
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(os.Args[2]))
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	switch os.Args[1] {
	case "bucket":
		verifyBucket(verifier, os.Args[3])
	case "proofs":
		verifyProofs(verifier, os.Args[3])
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
