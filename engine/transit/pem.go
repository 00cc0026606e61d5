package transit

import (
	"encoding/pem"
	"strconv"
)

// pemBlock encodes der as a PEM block of type typ, with its trailing newline.
func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func itoa(n int) string { return strconv.Itoa(n) }
