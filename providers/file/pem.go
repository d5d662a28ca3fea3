package file

import (
	"bytes"
	"encoding/pem"
)

const pemBegin = "-----BEGIN"

// pemBlock is where one block lies in a PEM file: from its BEGIN line to
// the end of its END line.
type pemBlock struct {
	typ        string
	start, end int
}

// scanPEM finds every block of data. It is stricter than a loop over
// pem.Decode, which skips a malformed or truncated block in silence: every
// "-----BEGIN" in data must start a block that decodes, and there must be
// at least one. Text between blocks is allowed. The decoded DER is wiped.
// Errors are *contentError, which give a line and column only.
func scanPEM(data []byte) ([]pemBlock, error) {
	var blocks []pemBlock
	for pos := 0; ; {
		b, rest := pem.Decode(data[pos:])
		if b == nil {
			if i := bytes.Index(data[pos:], []byte(pemBegin)); i >= 0 {
				return nil, contentErrorAt(formatPEM, codePEMMalformed, data, pos+i)
			}
			break
		}
		clear(b.Bytes)
		end := len(data) - len(rest)
		start := pos + bytes.Index(data[pos:end], []byte(pemBegin))
		if start < pos || bytes.Contains(data[start+1:end], []byte(pemBegin)) {
			// The block pem.Decode returned is not the first one that
			// begins after pos: it skipped a broken one.
			return nil, contentErrorAt(formatPEM, codePEMMalformed, data, max(start, pos))
		}
		blocks = append(blocks, pemBlock{typ: b.Type, start: start, end: end})
		pos = end
	}
	if len(blocks) == 0 {
		return nil, contentErrorOf(formatPEM, codePEMNoBlock)
	}
	return blocks, nil
}

// isPrivateKey reports whether blocks of type typ are selected by the part
// "key".
func isPrivateKey(typ string) bool {
	return typ == "PRIVATE KEY" || typ == "RSA PRIVATE KEY" || typ == "EC PRIVATE KEY"
}

// extractPEM validates data and returns the blocks that part selects, as PEM
// text in file order, in a new buffer: "cert" every CERTIFICATE block, "key"
// the one private key, anything else every block of that exact type. With
// part "" the result is whole (data itself).
func extractPEM(data []byte, part string) (out []byte, whole bool, err error) {
	blocks, err := scanPEM(data)
	if err != nil {
		return nil, false, err
	}
	if part == "" {
		return nil, true, nil
	}
	var selected []pemBlock
	for _, b := range blocks {
		if part == "cert" && b.typ == "CERTIFICATE" ||
			part == "key" && isPrivateKey(b.typ) ||
			part == b.typ {
			selected = append(selected, b)
		}
	}
	switch {
	case len(selected) == 0:
		return nil, false, contentErrorOf(formatPEM, codePEMNotSelected)
	case part == "key" && len(selected) > 1:
		e := contentErrorAt(formatPEM, codePEMKeys, data, selected[1].start)
		e.n = len(selected)
		return nil, false, e
	}
	return joinPEM(data, selected), false, nil
}

// joinPEM concatenates the text of blocks in one buffer of exactly the right
// size, ending each block with a newline.
func joinPEM(data []byte, blocks []pemBlock) []byte {
	n := 0
	for _, b := range blocks {
		n += b.end - b.start
		if data[b.end-1] != '\n' {
			n++
		}
	}
	out := make([]byte, 0, n)
	for _, b := range blocks {
		out = append(out, data[b.start:b.end]...)
		if data[b.end-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out
}
