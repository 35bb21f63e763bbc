package probe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/runx"
)

// The dump check reads a mysqldump file statement by statement, as the
// sandbox server will (mysqldump_lex.go), and accepts only the statements
// mysqldump writes for one database, none of which may reach another
// database: SET of the session variables mysqldump saves and restores,
// DROP/CREATE of tables, views, sequences, triggers, routines and events
// of the scratch database, LOCK/UNLOCK TABLES, INSERT of literal rows,
// ALTER TABLE ... DISABLE/ENABLE KEYS, DO SETVAL and COMMIT. A name
// qualified with an existing database, a qualified name where a table or
// routine is named, a three-part name, a qualified function call, and
// words that only reach outside (GRANT, LOAD DATA, INTO OUTFILE, PREPARE,
// SET GLOBAL, ...) are refused wherever they appear, also inside bodies of
// triggers and routines. The same reader feeds the restore, so no
// statement reaches the server that the check did not see.

// dumpScanOptions say how the sandbox server reads statements and what a
// dump may not name.
type dumpScanOptions struct {
	// ServerVersion is the sandbox's version as executable comments write
	// it (10.11.19 is 101119).
	ServerVersion int
	// OtherDatabases are the databases on the sandbox other than the
	// scratch one: no name in the dump may be qualified with them.
	OtherDatabases []string
	// SQLMode and Charset are the session's sql_mode and
	// character_set_client when the restore starts.
	SQLMode, Charset string
	// MaxStatement is the longest statement accepted, in bytes.
	MaxStatement int
	// Keep keeps each statement's text, to execute it.
	Keep bool
	// bufferSize is the read buffer's initial size (tests make it tiny so
	// that tokens cross its end).
	bufferSize int
}

// dumpStatement is one statement of a dump.
type dumpStatement struct {
	// Line is the line the statement ends on.
	Line int
	// Text is the statement as it is sent to the server, with DEFINER
	// clauses removed (only when the options say Keep).
	Text string
	// SetsSession reports a SET statement: afterwards the session's
	// sql_mode and character set are compared with what the scanner
	// expects.
	SetsSession bool
}

// safeCharsets are the client character sets in which a backslash or a
// quote byte is always that character: in others (big5, sjis, gbk, ...)
// it can be the second byte of a character, and the server would end a
// string where the scanner does not.
func safeCharsets() []string {
	return []string{"utf8", "utf8mb3", "utf8mb4", "latin1", "latin2", "latin5", "latin7", "ascii", "binary", "cp1250", "cp1251", "cp1256", "cp1257"}
}

// allowedSQLModes are the sql_mode flags a dump may set: all that do not
// change how the server reads a statement, and the two that do in a way
// the lexer follows (ANSI_QUOTES, NO_BACKSLASH_ESCAPES). ORACLE and MSSQL
// (and the combinations that include them) are refused.
func allowedSQLModes() []string {
	return []string{"REAL_AS_FLOAT", "PIPES_AS_CONCAT", "ANSI_QUOTES", "IGNORE_SPACE", "IGNORE_BAD_TABLE_OPTIONS",
		"ONLY_FULL_GROUP_BY", "NO_UNSIGNED_SUBTRACTION", "NO_DIR_IN_CREATE", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS",
		"NO_AUTO_VALUE_ON_ZERO", "NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE", "NO_ZERO_DATE",
		"ALLOW_INVALID_DATES", "ERROR_FOR_DIVISION_BY_ZERO", "TRADITIONAL", "NO_AUTO_CREATE_USER", "HIGH_NOT_PRECEDENCE",
		"NO_ENGINE_SUBSTITUTION", "PAD_CHAR_TO_FULL_LENGTH", "EMPTY_STRING_IS_NULL", "SIMULTANEOUS_ASSIGNMENT",
		"TIME_ROUND_FRACTIONAL", "ANSI"}
}

// sessionVariables are the session variables mysqldump sets and restores.
func sessionVariables() []string {
	return []string{"sql_mode", "character_set_client", "character_set_results", "character_set_connection",
		"collation_connection", "time_zone", "unique_checks", "foreign_key_checks", "sql_notes", "note_verbosity", "autocommit",
		"check_constraint_checks", "sql_quote_show_create", "system_versioning_insert_history"}
}

// tableEngines are the storage engines a table may use; others reach
// outside the scratch database (FEDERATED, CONNECT, SPIDER, ...).
func tableEngines() []string {
	return []string{"innodb", "myisam", "aria", "memory", "heap", "archive", "csv", "blackhole"}
}

// outsideWords are words that only name things outside one database's
// tables and routines, or statements that do: they are refused wherever
// they appear as bare words.
func outsideWords() []string {
	return []string{"OUTFILE", "DUMPFILE", "INFILE", "LOAD", "LOAD_FILE", "SONAME", "PREPARE", "DEALLOCATE", "EXECUTE",
		"GRANT", "REVOKE", "SHUTDOWN", "INSTALL", "UNINSTALL", "BINLOG", "KILL", "FLUSH", "PURGE", "MASTER", "SLAVE", "SLAVES",
		"REPLICA", "PASSWORD", "GLOBAL", "DIRECTORY", "CONNECTION", "DATABASES", "SCHEMAS"}
}

// tablePosition are words after which a name is a table, view, sequence,
// trigger or routine: a qualified name there names a database.
func tablePosition() []string {
	return []string{"FROM", "JOIN", "STRAIGHT_JOIN", "INTO", "UPDATE", "TABLE", "TABLES", "REFERENCES", "CALL", "EXISTS",
		"TRIGGER", "PROCEDURE", "FUNCTION", "VIEW", "EVENT", "SEQUENCE", "FOR", "USING", "TO", "DELETE", "TRUNCATE", "HANDLER"}
}

// dumpWords holds the word lists the check looks up for every token.
type dumpWords struct {
	outside, tablePosition, engines map[string]bool
}

func newDumpWords() dumpWords {
	set := func(words []string) map[string]bool {
		m := make(map[string]bool, len(words))
		for _, w := range words {
			m[w] = true
		}
		return m
	}
	return dumpWords{outside: set(outsideWords()), tablePosition: set(tablePosition()), engines: set(tableEngines())}
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// sessionModel is what the scanner knows of the restore session: the
// sql_mode, the client character set, and user variables holding them.
type sessionModel struct {
	sqlMode string
	charset string
	vars    map[string]string // lower-cased name: value; absent means unknown
}

func (m *sessionModel) lexMode() (lexMode, error) {
	var lm lexMode
	for _, f := range strings.Split(strings.ToUpper(m.sqlMode), ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case !slices.Contains(allowedSQLModes(), f):
			return lm, fmt.Errorf("sql_mode %s changes how statements are read", f)
		case f == "ANSI_QUOTES" || f == "ANSI":
			lm.ansiQuotes = true
		case f == "NO_BACKSLASH_ESCAPES":
			lm.noBackslashEscapes = true
		}
	}
	if !containsFold(safeCharsets(), m.charset) {
		return lm, fmt.Errorf("character set %s can hide a quote inside a character", m.charset)
	}
	return lm, nil
}

// dumpScanner reads the statements of a dump.
type dumpScanner struct {
	words   dumpWords
	lex     *lexer
	opts    dumpScanOptions
	session sessionModel
	tail    *dumpTail
	tok     token
}

func newDumpScanner(r io.Reader, o dumpScanOptions) (*dumpScanner, error) {
	if o.MaxStatement <= 0 {
		o.MaxStatement = 1 << 30
	}
	tail := &dumpTail{}
	s := &dumpScanner{
		words:   newDumpWords(),
		opts:    o,
		session: sessionModel{sqlMode: o.SQLMode, charset: cmp0(o.Charset, "utf8mb4"), vars: map[string]string{}},
		tail:    tail,
	}
	mode, err := s.session.lexMode()
	if err != nil {
		return nil, fmt.Errorf("the restore session: %w", err)
	}
	s.lex = &lexer{src: newByteSource(io.TeeReader(r, tail), cmpInt(o.bufferSize, 256<<10)), mode: mode, version: o.ServerVersion, delimiter: ";", keep: o.Keep, maxStmt: o.MaxStatement, line: 1}
	return s, nil
}

func cmpInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func cmp0(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// next returns the next statement, or io.EOF after the last.
func (s *dumpScanner) next() (*dumpStatement, error) {
	for {
		s.lex.startStatement()
		c := newStmtCheck(s)
		for {
			s.lex.noText = c.n >= headTokens && c.kind != "SET"
			res, err := s.lex.next(&s.tok, c.n == 0)
			if err != nil {
				return nil, err
			}
			if res == lexDelimiter {
				s.lex.startStatement()
				continue
			}
			if res == lexEnd {
				break
			}
			if res == lexToken {
				c.add(s.tok)
			}
		}
		if c.n == 0 {
			if s.lex.src.peek(0) < 0 {
				if s.lex.src.err != nil {
					return nil, s.lex.readErr()
				}
				return nil, io.EOF
			}
			continue
		}
		st, err := c.finish()
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", s.lex.line, err)
		}
		return st, nil
	}
}

// verifySession compares the session state the server reports after a SET
// with the scanner's model, and takes the server's as the truth: a dump
// whose SET statements the model cannot follow is not restored further.
func (s *dumpScanner) verifySession(sqlMode, charset string) error {
	got := sessionModel{sqlMode: sqlMode, charset: charset}
	gotMode, err := got.lexMode()
	if err != nil {
		return fmt.Errorf("after line %d the session reads statements differently: %w", s.lex.line, err)
	}
	if gotMode != s.lex.mode {
		return fmt.Errorf("after line %d the session's sql_mode is %q, not what the dump check expected", s.lex.line, sqlMode)
	}
	s.session.sqlMode, s.session.charset = sqlMode, charset
	return nil
}

// stmtCheck checks one statement token by token, keeping only the first
// tokens (the statement's head) and a window of the last ones, so that a
// long INSERT costs no memory.
type stmtCheck struct {
	s      *dumpScanner
	n      int     // tokens so far
	head   []token // the first headTokens tokens, all of them for SET
	win    [6]token
	kind   string // the first word, upper-cased
	err    error
	shape  error // the statement is not of a shape mysqldump writes
	dots   int   // "." tokens seen
	depth  int   // parenthesis depth
	insert int   // progress through an INSERT: see addInsert
	pend   func(t token) error
	values bool // in the VALUES of an INSERT
}

const (
	headTokens = 64
	setTokens  = 4096
)

func newStmtCheck(s *dumpScanner) *stmtCheck { return &stmtCheck{s: s} }

func (c *stmtCheck) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// badShape records that the statement is not one mysqldump writes; a
// reason that names another database, found later, is reported instead.
func (c *stmtCheck) badShape(format string, args ...any) {
	if c.shape == nil {
		c.shape = fmt.Errorf(format, args...)
	}
}

// at returns the token i places before the last one (0: the last).
func (c *stmtCheck) at(i int) token {
	if i >= c.n || i >= len(c.win) {
		return token{}
	}
	return c.win[(c.n-1-i)%len(c.win)]
}

func (c *stmtCheck) add(t token) {
	c.win[c.n%len(c.win)] = t
	c.n++
	if c.n == 1 {
		c.kind = strings.ToUpper(t.text)
		if t.kind != tokWord {
			c.kind = ""
		}
	}
	limit := headTokens
	if c.kind == "SET" {
		limit = setTokens
	}
	if len(c.head) < limit {
		c.head = append(c.head, t)
	} else if c.kind == "SET" {
		c.fail("a SET statement of more than %d tokens", setTokens)
	}
	if c.err != nil {
		return
	}
	if c.pend != nil {
		p := c.pend
		c.pend = nil
		if err := p(t); err != nil {
			c.fail("%v", err)
			return
		}
	}
	switch {
	case t.punct('('):
		c.depth++
	case t.punct(')'):
		c.depth--
	case t.punct('.'):
		c.dots++
	}
	c.checkNames(t)
	c.checkWords(t)
	if c.kind == "INSERT" || c.kind == "REPLACE" {
		c.addInsert(t)
	}
}

// checkNames refuses qualified names that can reach another database.
func (c *stmtCheck) checkNames(t token) {
	if (t.kind == tokQuoted || t.kind == tokString) && strings.HasPrefix(strings.ToLower(t.text), "#mysql50#") {
		c.fail("the name %q reaches a database directory by its file name", t.text)
		return
	}
	// a . b (: a qualified function call.
	if t.punct('(') && c.at(1).name() && c.at(2).punct('.') && c.at(3).name() {
		c.fail("the qualified call %s.%s(): a routine of another database", c.at(3).text, c.at(1).text)
		return
	}
	if !t.name() || !c.at(1).punct('.') || !c.at(2).name() {
		return
	}
	head := c.at(2)
	if c.at(3).punct('.') && c.at(4).name() {
		c.fail("the three-part name %s.%s.%s names a database", c.at(4).text, head.text, t.text)
		return
	}
	for _, db := range c.s.opts.OtherDatabases {
		if !head.long && strings.EqualFold(head.text, db) {
			c.fail("it names database %s (%s.%s): a dump may only name its own tables", db, head.text, t.text)
			return
		}
	}
	prev := c.at(3)
	if prev.kind == tokWord && c.s.words.tablePosition[strings.ToUpper(prev.text)] ||
		prev.punct('(') && (c.at(4).word("NEXTVAL") || c.at(4).word("LASTVAL") || c.at(4).word("SETVAL")) {
		c.fail("the qualified name %s.%s after %s names a database", head.text, t.text, strings.ToUpper(prev.text))
	}
}

// checkWords refuses words that reach outside the scratch database.
func (c *stmtCheck) checkWords(t token) {
	prev := c.at(1)
	if t.kind == tokSysVar {
		name := strings.ToLower(t.text)
		if strings.HasPrefix(name, "global.") {
			c.fail("@@%s: a global variable", t.text)
		}
		if c.kind != "SET" && (strings.HasSuffix(name, "sql_mode") || strings.HasSuffix(name, "character_set_client")) {
			c.fail("@@%s outside a SET statement", t.text)
		}
		return
	}
	if t.kind != tokWord {
		return
	}
	w := strings.ToUpper(t.text)
	switch {
	case c.s.words.outside[w]:
		c.fail("%s reaches outside the scratch database", w)
	case w == "USE":
		c.pend = func(n token) error {
			if n.word("INDEX") || n.word("KEY") {
				return nil
			}
			return fmt.Errorf("it names databases (USE %s); dump a single database without --databases", n.text)
		}
	case w == "DATABASE" || w == "SCHEMA":
		c.pend = func(n token) error {
			if n.punct('(') {
				return nil
			}
			return fmt.Errorf("it names databases (%s %s %s); dump a single database without --databases", strings.ToUpper(prev.text), w, n.text)
		}
	case (w == "USER" || w == "ROLE" || w == "SERVER") && prev.kind == tokWord &&
		containsFold([]string{"CREATE", "DROP", "ALTER", "RENAME", "REPLACE", "SET", "DEFAULT"}, prev.text):
		c.fail("%s %s reaches outside the scratch database", strings.ToUpper(prev.text), w)
	case c.kind != "SET" && (w == "SQL_MODE" || w == "CHARACTER_SET_CLIENT" ||
		prev.word("SET") && (w == "NAMES" || w == "CHARSET" || w == "CHARACTER")):
		c.fail("%s outside a SET statement changes how statements are read", w)
	case w == "ENGINE":
		c.pend = func(n token) error {
			if n.punct('=') {
				c.pend = c.engine
				return nil
			}
			return c.engine(n)
		}
	case (w == "SELECT" || w == "UNION") && c.kind == "CREATE" && (c.head[1].word("TABLE") || c.head[1].word("SEQUENCE")):
		c.badShape("CREATE %s ... %s: a table is created from its definition only", strings.ToUpper(c.head[1].text), w)
	}
}

func (c *stmtCheck) engine(n token) error {
	if !c.s.words.engines[strings.ToLower(n.text)] {
		return fmt.Errorf("ENGINE=%s: only tables of %s are restored", n.text, strings.Join(tableEngines(), ", "))
	}
	return nil
}

// addInsert follows INSERT [modifiers] [INTO] name [(columns)] VALUES
// (literals), ...: rows are literals only, as mysqldump writes them.
func (c *stmtCheck) addInsert(t token) {
	if c.values {
		switch {
		case t.kind == tokString || t.kind == tokNumber:
		case t.kind == tokWord && (numericWord(t.text) || containsFold([]string{"NULL", "TRUE", "FALSE"}, t.text) || strings.HasPrefix(t.text, "_")):
		case t.kind == tokPunct && strings.Contains("(),-+", t.text):
		default:
			c.badShape("the rows of an INSERT hold %q: mysqldump writes literals only", t.text)
		}
		return
	}
	switch c.insert {
	case 0: // INSERT or REPLACE
		c.insert = 1
	case 1: // modifiers, INTO, or the table
		switch {
		case containsFold([]string{"LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"}, t.text) && t.kind == tokWord:
		case t.name():
			c.insert = 2
		default:
			c.badShape("an INSERT into %q", t.text)
		}
	case 2: // the column list or VALUES
		switch {
		case t.word("VALUES") || t.word("VALUE"):
			c.values = true
		case t.punct('(') && c.depth == 1:
			c.insert = 3
		default:
			c.badShape("an INSERT with %q after the table name: mysqldump writes VALUES", t.text)
		}
	case 3: // columns
		switch {
		case t.name() || t.punct(','):
		case t.punct(')'):
			c.insert = 2
		default:
			c.badShape("an INSERT whose column list holds %q", t.text)
		}
	}
}

// finish checks the statement's shape and returns it.
func (c *stmtCheck) finish() (*dumpStatement, error) {
	if c.err == nil && c.pend != nil {
		// The statement ended right after USE, DATABASE or ENGINE.
		if err := c.pend(token{}); err != nil {
			c.fail("%v", err)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.shape != nil {
		return nil, c.shape
	}
	st := &dumpStatement{Line: c.s.lex.line}
	var edits [][2]int
	var err error
	h := c.head
	switch c.kind {
	case "SET":
		st.SetsSession = true
		err = c.s.applySet(h)
	case "DROP":
		err = c.checkDrop(h)
	case "CREATE":
		edits, err = c.checkCreate(h)
	case "INSERT", "REPLACE":
		if !c.values {
			err = errors.New("an INSERT without VALUES")
		}
	case "LOCK":
		err = c.checkLock(h)
	case "UNLOCK":
		if len(h) != 2 || !h[1].word("TABLES") {
			err = errors.New("UNLOCK other than UNLOCK TABLES")
		}
	case "ALTER":
		if c.n != 5 || !h[1].word("TABLE") || !h[2].name() || !(h[3].word("DISABLE") || h[3].word("ENABLE")) || !h[4].word("KEYS") {
			err = errors.New("ALTER other than ALTER TABLE ... DISABLE/ENABLE KEYS")
		}
	case "DO", "SELECT":
		// DO SETVAL(`s`, 1, 0): mysqldump restores a sequence's position.
		ok := c.n <= 12 && c.n >= 6 && h[1].word("SETVAL") && h[2].punct('(') && h[3].name() && h[c.n-1].punct(')') && c.dots == 0
		for j := 4; ok && j < c.n-1; j++ {
			t := h[j]
			ok = t.punct(',') || t.kind == tokWord && numericWord(t.text) || t.punct('-')
		}
		if !ok {
			err = fmt.Errorf("%s other than DO SETVAL(sequence, ...)", c.kind)
		}
	case "COMMIT":
		if c.n != 1 {
			err = errors.New("COMMIT with arguments")
		}
	case "START":
		if c.n != 2 || !h[1].word("TRANSACTION") {
			err = errors.New("START other than START TRANSACTION")
		}
	default:
		err = fmt.Errorf("%q is not a statement mysqldump writes for one database", c.head[0].text)
	}
	if err != nil {
		return nil, err
	}
	if c.s.opts.Keep {
		st.Text = applyEdits(c.s.lex.stmt, edits)
	}
	return st, nil
}

// applyEdits replaces each byte range of stmt with a space.
func applyEdits(stmt []byte, edits [][2]int) string {
	if len(edits) == 0 {
		return string(stmt)
	}
	var b strings.Builder
	last := 0
	for _, e := range edits {
		b.Write(stmt[last:e[0]])
		b.WriteByte(' ')
		last = e[1]
	}
	b.Write(stmt[last:])
	return b.String()
}

// names checks that h from i on is a list of unqualified names separated
// by commas, and returns the index after it.
func names(h []token, i int) int {
	for i < len(h) && h[i].name() {
		i++
		if i < len(h) && h[i].punct(',') {
			i++
			continue
		}
		break
	}
	return i
}

func (c *stmtCheck) checkDrop(h []token) error {
	if c.dots > 0 || c.n > headTokens {
		return errors.New("a DROP of qualified or many names")
	}
	i := 1
	if i < len(h) && h[i].word("TEMPORARY") {
		i++
	}
	if i >= len(h) || !containsFold([]string{"TABLE", "VIEW", "SEQUENCE", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"}, h[i].text) || h[i].kind != tokWord {
		return errors.New("DROP of something that is not a table, view, sequence, trigger, routine or event")
	}
	i++
	if i+1 < len(h) && h[i].word("IF") && h[i+1].word("EXISTS") {
		i += 2
	}
	if names(h, i) != len(h) || i == len(h) {
		return errors.New("a DROP whose names are not plain names")
	}
	return nil
}

func (c *stmtCheck) checkLock(h []token) error {
	if c.dots > 0 || c.n > headTokens || len(h) < 4 || !h[1].word("TABLES") {
		return errors.New("LOCK other than LOCK TABLES of the dump's tables")
	}
	for i := 2; i < len(h); {
		if !h[i].name() {
			return errors.New("LOCK TABLES of something that is not a table")
		}
		i++
		if i < len(h) && h[i].word("AS") {
			i += 2
		}
		switch {
		case i < len(h) && h[i].word("READ"):
			i++
			if i < len(h) && h[i].word("LOCAL") {
				i++
			}
		case i < len(h) && h[i].word("WRITE"):
			i++
		case i+1 < len(h) && h[i].word("LOW_PRIORITY") && h[i+1].word("WRITE"):
			i += 2
		default:
			return errors.New("LOCK TABLES without READ or WRITE")
		}
		if i < len(h) {
			if !h[i].punct(',') {
				return errors.New("LOCK TABLES with more than names and lock types")
			}
			i++
		}
	}
	return nil
}

// checkCreate checks CREATE [OR REPLACE] [ALGORITHM=..] [DEFINER=..]
// [SQL SECURITY ..] kind name and returns the byte range of the DEFINER
// clause to remove: the restore user may not create objects that run as
// someone else, so they run as the restore user.
func (c *stmtCheck) checkCreate(h []token) ([][2]int, error) {
	var edits [][2]int
	i := 1
	if i+1 < len(h) && h[i].word("OR") && h[i+1].word("REPLACE") {
		i += 2
	}
	options := 0
opts:
	for i < len(h) {
		switch {
		case h[i].word("ALGORITHM") && i+2 < len(h) && h[i+1].punct('=') && h[i+2].kind == tokWord:
			i += 3
		case h[i].word("SQL") && i+2 < len(h) && h[i+1].word("SECURITY") && h[i+2].kind == tokWord:
			i += 3
		case h[i].word("AGGREGATE"):
			i++
		case h[i].word("DEFINER") && i+2 < len(h) && h[i+1].punct('='):
			end, ok := definerEnd(h, i+2)
			if !ok || len(edits) > 0 {
				return nil, errors.New("a DEFINER clause that is not user@host or CURRENT_USER")
			}
			for _, t := range h[i:end] {
				if t.comment != h[i].comment {
					return nil, errors.New("a DEFINER clause split across executable comments")
				}
			}
			edits = append(edits, [2]int{h[i].off, h[end-1].end})
			i = end
		default:
			break opts
		}
		options++
	}
	if i >= len(h) || h[i].kind != tokWord {
		return nil, errors.New("CREATE without a kind of object")
	}
	kind := strings.ToUpper(h[i].text)
	i++
	if i+2 < len(h) && h[i].word("IF") && h[i+1].word("NOT") && h[i+2].word("EXISTS") {
		i += 3
	}
	if i >= len(h) || !h[i].name() || (i+1 < len(h) && h[i+1].punct('.')) {
		return nil, fmt.Errorf("CREATE %s of a name that is not plain", kind)
	}
	switch kind {
	case "TABLE", "SEQUENCE":
		if options > 0 || c.dots > 0 {
			return nil, fmt.Errorf("CREATE %s with options or qualified names", kind)
		}
	case "VIEW", "PROCEDURE", "FUNCTION", "EVENT":
	case "TRIGGER":
		j := i + 1
		if j+3 >= len(h) || !(h[j].word("BEFORE") || h[j].word("AFTER")) || !containsFold([]string{"INSERT", "UPDATE", "DELETE"}, h[j+1].text) ||
			!h[j+2].word("ON") || !h[j+3].name() || (j+4 < len(h) && h[j+4].punct('.')) {
			return nil, errors.New("CREATE TRIGGER on a table that is not a plain name")
		}
	default:
		return nil, fmt.Errorf("CREATE %s: only tables, views, sequences, triggers, routines and events are restored", kind)
	}
	// A second DEFINER= in the head (say, in a body) is refused.
	for j := i; j+1 < len(h); j++ {
		if h[j].word("DEFINER") && h[j+1].punct('=') {
			return nil, errors.New("a DEFINER clause inside the object's body")
		}
	}
	return edits, nil
}

// definerEnd returns the index after the user of a DEFINER clause that
// starts at i: CURRENT_USER[()] or name[@host].
func definerEnd(h []token, i int) (int, bool) {
	if i >= len(h) {
		return 0, false
	}
	if h[i].word("CURRENT_USER") {
		if i+2 < len(h) && h[i+1].punct('(') && h[i+2].punct(')') {
			return i + 3, true
		}
		return i + 1, true
	}
	if !(h[i].kind == tokWord || h[i].kind == tokQuoted || h[i].kind == tokString) {
		return 0, false
	}
	if i+1 < len(h) && h[i+1].kind == tokUserVar && h[i+1].adjacent {
		return i + 2, true
	}
	return i + 1, true
}

// applySet follows a SET statement: each assignment is to a session
// variable mysqldump uses or to a user variable, of a single value. The
// sql_mode and the client character set, which change how the next
// statements are read, are followed through user variables.
func (s *dumpScanner) applySet(h []token) error {
	i := 1
	for {
		if i >= len(h) {
			return errors.New("SET without an assignment")
		}
		scope := ""
		if h[i].word("SESSION") || h[i].word("LOCAL") {
			scope = "session"
			i++
		}
		if i >= len(h) {
			return errors.New("SET without an assignment")
		}
		t := h[i]
		target, user := "", false
		switch {
		case t.kind == tokUserVar && scope == "":
			target, user = strings.ToLower(t.text), true
			i++
		case t.kind == tokSysVar && scope == "":
			target = strings.ToLower(t.text)
			if sc, name, ok := strings.Cut(target, "."); ok {
				if sc != "session" && sc != "local" {
					return fmt.Errorf("SET @@%s: only session variables are set", t.text)
				}
				target = name
			}
			i++
		case t.word("NAMES") || t.word("CHARSET"):
			target = "character_set_client"
			i++
		case t.word("CHARACTER") && i+1 < len(h) && h[i+1].word("SET"):
			target = "character_set_client"
			i += 2
		case t.kind == tokWord || t.kind == tokQuoted:
			target = strings.ToLower(t.text)
			i++
		default:
			return fmt.Errorf("SET of %q", t.text)
		}
		named := t.word("NAMES") || t.word("CHARSET") || t.word("CHARACTER")
		if !named {
			switch {
			case i < len(h) && h[i].punct('='):
				i++
			case i+1 < len(h) && h[i].punct(':') && h[i+1].punct('=') && h[i+1].adjacent:
				i += 2
			default:
				return fmt.Errorf("SET %s without =", target)
			}
		}
		if !user && !slices.Contains(sessionVariables(), target) {
			return fmt.Errorf("SET %s: mysqldump sets only %s", target, strings.Join(sessionVariables(), ", "))
		}
		if i < len(h) && (h[i].punct('-') || h[i].punct('+')) {
			i++
		}
		if i >= len(h) {
			return fmt.Errorf("SET %s without a value", target)
		}
		v := h[i]
		i++
		if named && i+1 < len(h) && h[i].word("COLLATE") {
			i += 2
		}
		value, known := s.valueOf(v)
		switch {
		case user:
			if known {
				s.session.vars[target] = value
			} else {
				delete(s.session.vars, target)
			}
		case target == "sql_mode":
			if !known {
				return fmt.Errorf("SET sql_mode to %q, which the dump check cannot follow", v.text)
			}
			s.session.sqlMode = value
		case target == "character_set_client":
			if !known {
				return fmt.Errorf("SET of the client character set to %q, which the dump check cannot follow", v.text)
			}
			s.session.charset = value
		}
		if i == len(h) {
			break
		}
		if !h[i].punct(',') {
			return fmt.Errorf("SET %s to more than one value", target)
		}
		i++
	}
	mode, err := s.session.lexMode()
	if err != nil {
		return err
	}
	s.lex.mode = mode
	return nil
}

// valueOf returns the value of a token as the session model knows it.
func (s *dumpScanner) valueOf(v token) (string, bool) {
	switch v.kind {
	case tokString:
		if v.prefix != 0 || v.long || strings.ContainsAny(v.text, `\'"`) {
			return "", false
		}
		return v.text, true
	case tokWord:
		if v.word("DEFAULT") || v.long {
			return "", false
		}
		return v.text, true
	case tokQuoted:
		return v.text, !v.long
	case tokUserVar:
		val, ok := s.session.vars[strings.ToLower(v.text)]
		return val, ok
	case tokSysVar:
		name := strings.ToLower(v.text)
		name = strings.TrimPrefix(strings.TrimPrefix(name, "session."), "local.")
		switch name {
		case "sql_mode":
			return s.session.sqlMode, true
		case "character_set_client":
			return s.session.charset, true
		}
	}
	return "", false
}

// dumpTail watches the lines that tell a complete mysqldump file: its
// header in the first lines and the "Dump completed" line at its end.
type dumpTail struct {
	lines  int
	line   []byte // the first 64 bytes of the current line
	header bool
	last   string // the first 64 bytes of the last non-blank line
	inLine int
}

func (d *dumpTail) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			d.endLine()
			continue
		}
		if len(d.line) < 64 {
			d.line = append(d.line, c)
		}
		d.inLine++
	}
	return len(p), nil
}

func (d *dumpTail) endLine() {
	line := string(d.line)
	if d.lines < 3 && (strings.Contains(line, "MariaDB dump") || strings.Contains(line, "MySQL dump")) {
		d.header = true
	}
	if strings.TrimSpace(line) != "" {
		d.last = line
	}
	d.lines++
	d.line, d.inLine = d.line[:0], 0
}

// truncated reports a mysqldump file that lacks its final line.
func (d *dumpTail) truncated() bool {
	if d.inLine > 0 {
		d.endLine()
	}
	return d.header && !strings.HasPrefix(d.last, "-- Dump completed")
}

// checkMySQLDump reads the whole dump at path and refuses it when a
// statement could reach beyond the scratch database or is not one that
// mysqldump writes, or when the dump is cut short: mysqldump ends every
// complete dump with a "Dump completed" comment.
func checkMySQLDump(path string, o dumpScanOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return runx.Errorf(runx.KindIO, "open dump: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	o.Keep = false
	s, err := newDumpScanner(f, o)
	if err != nil {
		return runx.Errorf(runx.KindConfig, "check dump %s: %w", filepath.Base(path), err)
	}
	for {
		_, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if s.lex.src.err != nil {
				return runx.Errorf(runx.KindIO, "read dump %s: %w", filepath.Base(path), s.lex.src.err)
			}
			if s.tail.truncated() {
				return fmt.Errorf("dump %s is truncated: it does not end with mysqldump's \"Dump completed\" line (%w)", filepath.Base(path), err)
			}
			return runx.Errorf(runx.KindConfig, "refusing to restore %s: %w", filepath.Base(path), err)
		}
	}
	if s.tail.truncated() {
		return fmt.Errorf("dump %s is truncated: it does not end with mysqldump's \"Dump completed\" line", filepath.Base(path))
	}
	return nil
}
