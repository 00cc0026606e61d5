// Command strongroom runs the Strongroom key-management server.
//
//	strongroom server -config FILE   run a server from a configuration file
//	strongroom server -dev           run an initialised, unsealed dev server
//	strongroom operator backup -out F  save a snapshot of a running server's store
//	strongroom operator restore -config FILE -in F   load a snapshot into an empty store
//	strongroom version               print the version
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/strongroom/strongroom/gcfloor"
)

// Set at build time with -ldflags "-X main.version=... -X main.buildDate=...".
var (
	version   = "0.1.0-dev"
	buildDate = ""
)

// gcHeapFloor is the least heap target of a server process (see package
// gcfloor); an operator's GOGC replaces the tuning.
const gcHeapFloor = 64 << 20

func main() {
	if len(os.Args) > 1 && os.Args[1] == "server" && os.Getenv("GOGC") == "" {
		gcfloor.Start(gcHeapFloor) // for the life of the process
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: strongroom <command> [options]

Commands:
    server     Start a Strongroom server (-config FILE, or -dev)
    operator   backup (-out FILE) a running server's store; restore (-config FILE -in FILE) into an empty store
    version    Print the Strongroom version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "operator":
		return runOperator(args[1:], stdout, stderr)
	case "version", "-v", "-version", "--version":
		fmt.Fprintf(stdout, "Strongroom v%s%s\n", version, dateSuffix())
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "Unknown command %q\n\n%s", args[0], usage)
	return 1
}

func dateSuffix() string {
	if buildDate == "" {
		return ""
	}
	return ", built " + buildDate
}
