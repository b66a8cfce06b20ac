package process

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeAddr returns a loopback address whose port was free a moment ago, for
// a child that cannot announce what it bound: one that takes its port from
// a file (nginx), or whose port others must know before it starts (a
// webhook server named in a webhook configuration). Another process can
// take the port before the child binds it, so the caller starts the child
// again on a fresh address when AddrInUse says that happened. A port nobody
// listens on, for "connection refused", comes from here too.
//
// The port comes from below the kernel's ephemeral range when there is
// room: a load generator opens thousands of outgoing connections, and any of
// them could take a port from that range.
func FreeAddr() (string, error) {
	low := ephemeralLow()
	var err error
	for try := range 200 {
		addr := "127.0.0.1:0"
		if low > 11000 && try < 100 {
			addr = fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(low-10000))
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			a := ln.Addr().String()
			ln.Close()
			return a, nil
		}
	}
	return "", fmt.Errorf("find a free port: %w", err)
}

// ephemeralLow is the first port of the kernel's ephemeral range (0 when
// unknown).
func ephemeralLow() int {
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.Atoi(f[0])
	return v
}

// AddrInUse reports whether a child failed because its address was taken,
// as its output (which Start's and the waits' errors end with) says: worth
// another try on a fresh address.
func AddrInUse(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "address already in use")
}
