package wal_test

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

var (
	flagSeed = flag.Uint64("seed", 0, "seed for randomized tests (0 = random)")
	flagLong = flag.Bool("long", os.Getenv("EDGEKIT_LONG") == "1", "run the long reliability trials (also EDGEKIT_LONG=1)")
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m)
}
