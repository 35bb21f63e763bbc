package probe

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// libpqEnv maps the libpq connection keywords Restorable passes on to the
// environment variables pg_dump and pg_restore read. The tools get the
// connection through their environment, never on the command line, where
// every user of the machine could read a password.
func libpqEnv() map[string]string {
	return map[string]string{
		"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE",
		"user": "PGUSER", "password": "PGPASSWORD", "passfile": "PGPASSFILE", "service": "PGSERVICE",
		"options": "PGOPTIONS", "application_name": "PGAPPNAME", "connect_timeout": "PGCONNECT_TIMEOUT",
		"sslmode": "PGSSLMODE", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslrootcert": "PGSSLROOTCERT",
		"sslcrl": "PGSSLCRL", "sslpassword": "PGSSLPASSWORD", "gssencmode": "PGGSSENCMODE",
		"target_session_attrs": "PGTARGETSESSIONATTRS", "channel_binding": "PGCHANNELBINDING",
		"krbsrvname": "PGKRBSRVNAME", "requiressl": "PGREQUIRESSL",
	}
}

// parseConninfo parses a PostgreSQL connection string, a URL
// (postgres://user@host:5432/db?sslmode=require) or keyword/value pairs
// (host=h port=5432 dbname=db), into libpq keywords. Errors never quote
// the string, which may hold a password.
func parseConninfo(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return parsePgURL(s)
	}
	return parsePgKeywords(s)
}

func parsePgURL(s string) (map[string]string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a valid postgres:// URL")
	}
	m := map[string]string{}
	if u.User != nil {
		if n := u.User.Username(); n != "" {
			m["user"] = n
		}
		if p, ok := u.User.Password(); ok {
			m["password"] = p
		}
	}
	var hosts, ports []string
	for _, hp := range strings.Split(u.Host, ",") {
		if hp == "" {
			continue
		}
		h, p := hp, ""
		if i := strings.LastIndex(hp, ":"); i >= 0 && !strings.HasSuffix(hp, "]") {
			h, p = hp[:i], hp[i+1:]
		}
		hosts = append(hosts, strings.Trim(h, "[]"))
		ports = append(ports, p)
	}
	if len(hosts) > 0 {
		m["host"] = strings.Join(hosts, ",")
	}
	if strings.Trim(strings.Join(ports, ""), ",") != "" {
		m["port"] = strings.Join(ports, ",")
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		m["dbname"] = db
	}
	known := libpqEnv()
	for k, vs := range u.Query() {
		if _, ok := known[k]; !ok {
			return nil, fmt.Errorf("unknown connection parameter %q", k)
		}
		m[k] = vs[len(vs)-1]
	}
	return m, nil
}

func parsePgKeywords(s string) (map[string]string, error) {
	m := map[string]string{}
	known := libpqEnv()
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("%s has no value (want keyword=value pairs or a postgres:// URL; quote values that hold spaces)", safeKeyword(known, key, start))
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value of %q", key)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		if _, ok := known[key]; !ok {
			return nil, fmt.Errorf("unknown connection parameter: %s", safeKeyword(known, key, start))
		}
		m[key] = val.String()
	}
	return m, nil
}

// safeKeyword names a keyword of a connection string in a message: a known
// keyword by name, anything else only by its position, because a word that
// is not a keyword may be the rest of an unquoted password with a space.
func safeKeyword(known map[string]string, key string, at int) string {
	if _, ok := known[key]; ok {
		return fmt.Sprintf("keyword %q", key)
	}
	return fmt.Sprintf("the word at byte %d (not shown: it may be part of an unquoted value)", at)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// conninfoString writes keywords back as a keyword/value string that pgx
// and libpq both read.
func conninfoString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := strings.ReplaceAll(strings.ReplaceAll(m[k], `\`, `\\`), `'`, `\'`)
		fmt.Fprintf(&b, "%s='%s' ", k, v)
	}
	return strings.TrimSpace(b.String())
}

// pgEnvOf turns keywords into the environment of a libpq program, with
// dbname replaced by db when db is not empty.
func pgEnvOf(m map[string]string, db string) []string {
	known := libpqEnv()
	env := make([]string, 0, len(m)+1)
	for k, v := range m {
		if k == "dbname" && db != "" {
			continue
		}
		env = append(env, known[k]+"="+v)
	}
	if db != "" {
		env = append(env, "PGDATABASE="+db)
	}
	sort.Strings(env)
	return env
}

// pgEndpoint is where a parsed connection string points, with libpq's
// defaults for what it leaves out.
func pgEndpoint(m map[string]string) endpoint {
	hosts := strings.Split(m["host"], ",")
	if m["host"] == "" {
		hosts = []string{"/var/run/postgresql"}
	}
	port := m["port"]
	if port == "" {
		port = "5432"
	}
	if i := strings.Index(port, ","); i >= 0 {
		port = port[:i]
	}
	db := m["dbname"]
	if db == "" {
		db = m["user"]
	}
	return endpoint{hosts: hosts, port: port, database: db}
}
