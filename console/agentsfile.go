package console

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// LoadAgentsFile reads agents from a file in ParseAgents' format, so that
// password hashes can live outside the main configuration (a secret mounted
// into the container). The caller appends them to Config.Agents.
func LoadAgentsFile(path string) ([]Agent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agents file: %w", err)
	}
	defer f.Close()
	as, err := ParseAgents(f)
	if err != nil {
		return nil, fmt.Errorf("agents file %s: %w", path, err)
	}
	return as, nil
}

// ParseAgents reads an htpasswd-style agents file: one agent per line,
//
//	id:bcrypt-hash[:groups[:role[:max_chats[:name]]]]
//
// groups comma-separated, role agent, supervisor or editor; blank lines and lines
// starting with # are ignored. `htpasswd -nbB alice PASSWORD` prints the
// first two fields.
func ParseAgents(r io.Reader) ([]Agent, error) {
	var out []Agent
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, ":", 6)
		if len(f) < 2 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("line %d: want id:bcrypt-hash[:groups[:role[:max_chats[:name]]]]", n)
		}
		a := Agent{ID: f[0], PasswordHash: f[1]}
		if len(f) > 2 && f[2] != "" {
			for _, g := range strings.Split(f[2], ",") {
				if g = strings.TrimSpace(g); g != "" {
					a.Groups = append(a.Groups, g)
				}
			}
		}
		if len(f) > 3 {
			a.Role = f[3]
		}
		if len(f) > 4 && f[4] != "" {
			m, err := strconv.Atoi(f[4])
			if err != nil {
				return nil, fmt.Errorf("line %d: max_chats %q: %w", n, f[4], err)
			}
			a.MaxChats = m
		}
		if len(f) > 5 {
			a.Name = f[5]
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
