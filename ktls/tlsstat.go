package ktls

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// tlsStatPath is where the kernel publishes kTLS counters once the tls
// module is loaded.
const tlsStatPath = "/proc/net/tls_stat"

// parseTLSStat reads "Name<spaces>value" lines.
func parseTLSStat(r io.Reader) (map[string]int64, error) {
	stats := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("edgekit/ktls: %s: malformed line %q", tlsStatPath, sc.Text())
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("edgekit/ktls: %s: %q: %v", tlsStatPath, sc.Text(), err)
		}
		stats[f[0]] = v
	}
	return stats, sc.Err()
}
