package probe

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// This file splits a mysqldump file into statements and those into tokens
// the way the MariaDB server's lexer does (sql/sql_lex.cc, lex_one_token),
// so that the dump check (mysqldump_check.go) sees exactly what the server
// will execute: comments, executable comments whose content is code on the
// sandbox's version, strings under the session's sql_mode, and the client's
// DELIMITER command. Where the server's reading could differ from this one
// (a NUL byte, "--" before a non-ASCII byte, an unterminated string or
// comment, a nested executable comment) the dump is refused instead of
// guessed at.

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokWord    tokKind = iota + 1 // identifier, keyword or number: a run of identifier bytes
	tokNumber                     // a number with a decimal point or a signed exponent
	tokQuoted                     // `identifier`, or "identifier" under ANSI_QUOTES
	tokString                     // 'text', or "text" without ANSI_QUOTES; X'..', B'..', N'..'
	tokUserVar                    // @name, @'name', @`name`: also the host part of user@host
	tokSysVar                     // @@name or @@scope.name
	tokPunct                      // one byte of punctuation
)

// maxTokenText is how much of a token's text is kept: longer than any
// name the server accepts (64 characters of up to 4 bytes).
const maxTokenText = 256

// token is one token of a statement.
type token struct {
	kind tokKind
	// text is the token's text: for quoted identifiers and strings their
	// content with doubled quotes undone (backslash escapes are left as
	// they are), cut at maxTokenText.
	text string
	long bool // text was cut
	// prefix is the x, b or n of X'..', B'..', N'..' strings.
	prefix byte
	// off and end are the token's byte offsets in the statement.
	off, end int
	// comment numbers the executable comment the token is in (0: none).
	comment int
	// adjacent reports that no byte separates the token from the one
	// before it.
	adjacent bool
}

func (t token) is(kind tokKind, text string) bool {
	return t.kind == kind && strings.EqualFold(t.text, text)
}

// word reports whether t is the bare word w (case-insensitive).
func (t token) word(w string) bool { return t.is(tokWord, w) }

func (t token) punct(c byte) bool { return t.kind == tokPunct && len(t.text) == 1 && t.text[0] == c }

// name reports whether t can be a part of a qualified name.
func (t token) name() bool {
	return t.kind == tokQuoted || (t.kind == tokWord && !numericWord(t.text))
}

// numericWord reports whether the server reads a run of identifier bytes
// as a number rather than an identifier.
func numericWord(w string) bool {
	if w == "" || w[0] < '0' || w[0] > '9' {
		return false
	}
	digits := func(s string, ok func(byte) bool) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !ok(s[i]) {
				return false
			}
		}
		return true
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	hex := func(c byte) bool { return dec(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }
	bin := func(c byte) bool { return c == '0' || c == '1' }
	switch {
	case digits(w, dec):
		return true
	case len(w) > 2 && w[0] == '0' && w[1] == 'x':
		return digits(w[2:], hex)
	case len(w) > 2 && w[0] == '0' && w[1] == 'b':
		return digits(w[2:], bin)
	}
	if i := strings.IndexAny(w, "eE"); i > 0 {
		return digits(w[:i], dec) && digits(w[i+1:], dec)
	}
	return false
}

// lexMode is the part of the session state that changes how the server
// reads a statement.
type lexMode struct {
	noBackslashEscapes bool
	ansiQuotes         bool
}

// byteSource reads a file through a buffer that can look a few bytes
// ahead.
type byteSource struct {
	r        io.Reader
	buf      []byte
	pos, end int
	eof      bool
	err      error
}

func newByteSource(r io.Reader, size int) *byteSource {
	return &byteSource{r: r, buf: make([]byte, size)}
}

// peek returns the byte i bytes ahead, or -1 at the end of the file.
func (b *byteSource) peek(i int) int {
	for b.pos+i >= b.end {
		if b.eof || b.err != nil {
			return -1
		}
		if b.pos > 0 {
			n := copy(b.buf, b.buf[b.pos:b.end])
			b.pos, b.end = 0, n
		}
		if b.end == len(b.buf) {
			b.buf = append(b.buf, make([]byte, len(b.buf))...)
		}
		n, err := b.r.Read(b.buf[b.end:])
		b.end += n
		if errors.Is(err, io.EOF) {
			b.eof = true
		} else if err != nil {
			b.err = err
		}
	}
	return int(b.buf[b.pos+i])
}

// lexer cuts the dump into statements and tokens. It keeps the text of
// the current statement when keep is set.
type lexer struct {
	src       *byteSource
	mode      lexMode
	version   int // the server version as in executable comments, e.g. 101119
	delimiter string
	keep      bool
	maxStmt   int

	line     int    // line of the next byte, from 1
	stmt     []byte // the statement's text, when keep is set
	stmtLen  int    // bytes of the statement so far
	comments int    // executable comments seen in the statement
	inExec   int    // the executable comment the lexer is in (0: none)
	lastEnd  int    // end offset of the last token, -1 before the first
	prevName bool   // the last token can start a qualified name
	// noText spares copying the content of strings, which only the
	// statement's head and SET statements need.
	noText bool
	word   []byte // reused by run
}

// advance consumes n bytes of the current statement.
func (l *lexer) advance(n int) error {
	if l.src.peek(n-1) < 0 {
		return l.readErr()
	}
	chunk := l.src.buf[l.src.pos : l.src.pos+n]
	for _, c := range chunk {
		if c == '\n' {
			l.line++
		}
	}
	if l.keep {
		l.stmt = append(l.stmt, chunk...)
	}
	l.src.pos += n
	l.stmtLen += n
	if l.stmtLen > l.maxStmt {
		return fmt.Errorf("a statement at line %d is longer than %d bytes", l.line, l.maxStmt)
	}
	return nil
}

func (l *lexer) readErr() error {
	if l.src.err != nil {
		return fmt.Errorf("read dump: %w", l.src.err)
	}
	return io.ErrUnexpectedEOF
}

func (l *lexer) peek(i int) int { return l.src.peek(i) }

func (l *lexer) failf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s: it cannot be read safely", l.line, fmt.Sprintf(format, args...))
}

// startStatement forgets the previous statement.
func (l *lexer) startStatement() {
	l.stmt, l.stmtLen, l.comments, l.inExec, l.lastEnd = l.stmt[:0], 0, 0, 0, -1
}

// atDelimiter reports whether the delimiter starts at the next byte.
func (l *lexer) atDelimiter() bool {
	for i := 0; i < len(l.delimiter); i++ {
		if l.peek(i) != int(l.delimiter[i]) {
			return false
		}
	}
	return true
}

func isSQLSpace(c int) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isIdentByte(c int) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func isDigit(c int) bool { return c >= '0' && c <= '9' }

// lexResult is what one step of the lexer found.
type lexResult int

const (
	lexNothing   lexResult = iota // whitespace or a comment
	lexToken                      // a token (in tok)
	lexEnd                        // the delimiter or the end of the file: the statement ended
	lexDelimiter                  // a DELIMITER command changed the delimiter
)

// next reads the next token of the statement. trivial reports that the
// statement has had no token yet (DELIMITER is only read there).
func (l *lexer) next(tok *token, trivial bool) (lexResult, error) {
	c := l.peek(0)
	if c < 0 {
		if l.src.err != nil {
			return 0, l.readErr()
		}
		if l.inExec != 0 {
			return 0, l.failf("the file ends inside an executable comment")
		}
		return lexEnd, nil
	}
	if c == 0 {
		return 0, l.failf("a NUL byte, which mysqldump never writes")
	}
	if trivial && l.inExec == 0 && (c == 'd' || c == 'D') && l.atDelimiterCommand() {
		return lexDelimiter, l.delimiterCommand()
	}
	if l.atDelimiter() {
		if l.inExec != 0 {
			return 0, l.failf("the statement ends inside an executable comment")
		}
		if err := l.advance(len(l.delimiter)); err != nil {
			return 0, err
		}
		// The delimiter belongs to the client, not to the statement.
		if l.keep {
			l.stmt = l.stmt[:len(l.stmt)-len(l.delimiter)]
		}
		return lexEnd, nil
	}
	start := l.stmtLen
	adjacent := start == l.lastEnd
	emit := func(kind tokKind, text string, long bool) (lexResult, error) {
		*tok = token{kind: kind, text: text, long: long, off: start, end: l.stmtLen, comment: l.inExec, adjacent: adjacent}
		l.lastEnd, l.prevName = l.stmtLen, tok.name()
		return lexToken, nil
	}
	switch {
	case isSQLSpace(c):
		return lexNothing, l.advance(1)
	case c == '#':
		return lexNothing, l.lineComment()
	case c == '-' && l.peek(1) == '-':
		n := l.peek(2)
		switch {
		case n < 0 || n <= ' ' || n == 0x7f:
			return lexNothing, l.lineComment()
		case n >= 0x80:
			return 0, l.failf("\"--\" before a non-ASCII byte: the server may or may not read a comment")
		}
		if err := l.advance(1); err != nil {
			return 0, err
		}
		return emit(tokPunct, "-", false)
	case c == '/' && l.peek(1) == '*':
		return l.blockComment()
	case c == '*' && l.peek(1) == '/' && l.inExec != 0:
		l.inExec = 0
		return lexNothing, l.advance(2)
	case c == '\'':
		text, long, err := l.quoted('\'', !l.mode.noBackslashEscapes)
		if err != nil {
			return 0, err
		}
		return emit(tokString, text, long)
	case c == '"':
		text, long, err := l.quoted('"', !l.mode.ansiQuotes && !l.mode.noBackslashEscapes)
		if err != nil {
			return 0, err
		}
		if l.mode.ansiQuotes {
			return emit(tokQuoted, text, long)
		}
		return emit(tokString, text, long)
	case c == '`':
		text, long, err := l.quoted('`', false)
		if err != nil {
			return 0, err
		}
		return emit(tokQuoted, text, long)
	case c == '@':
		return l.variable(emit)
	case isIdentByte(c):
		// X'..', B'..' and N'..' are strings.
		if l.peek(1) == '\'' && strings.ContainsRune("xXbBnN", rune(c)) {
			if err := l.advance(1); err != nil {
				return 0, err
			}
			text, long, err := l.quoted('\'', (c|0x20) == 'n' && !l.mode.noBackslashEscapes)
			if err != nil {
				return 0, err
			}
			*tok = token{kind: tokString, text: text, long: long, prefix: byte(c | 0x20), off: start, end: l.stmtLen, comment: l.inExec, adjacent: adjacent}
			l.lastEnd, l.prevName = l.stmtLen, false
			return lexToken, nil
		}
		w, n, err := l.run(isIdentByte)
		if err != nil {
			return 0, err
		}
		kind := tokWord
		// 1.5, 1.5e-3 and 1e-3 are one number each.
		if allDigits(w) && l.peek(0) == '.' && !(l.peek(1) == '.') {
			if err := l.advance(1); err != nil {
				return 0, err
			}
			if err := l.numberTail(); err != nil {
				return 0, err
			}
			kind = tokNumber
		} else if len(w) > 1 && allDigits(w[:len(w)-1]) && (w[len(w)-1]|0x20) == 'e' && (l.peek(0) == '+' || l.peek(0) == '-') && isDigit(l.peek(1)) {
			if err := l.advance(1); err != nil {
				return 0, err
			}
			if err := l.digits(); err != nil {
				return 0, err
			}
			kind = tokNumber
		}
		if kind == tokNumber {
			w = ""
		}
		return emit(kind, w, n > maxTokenText)
	case c == '.' && isDigit(l.peek(1)) && !(adjacent && l.lastWasName()):
		if err := l.advance(1); err != nil {
			return 0, err
		}
		if err := l.numberTail(); err != nil {
			return 0, err
		}
		return emit(tokNumber, "", false)
	}
	if err := l.advance(1); err != nil {
		return 0, err
	}
	if c < len(asciiBytes) {
		return emit(tokPunct, asciiBytes[c:c+1], false)
	}
	return emit(tokPunct, string(rune(c)), false)
}

// asciiBytes holds every ASCII byte, so that a one-byte token's text is a
// slice of it instead of an allocation.
const asciiBytes = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f\x40\x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f"

// lastName is set by the scanner: whether the previous token can start a
// qualified name (then "." followed by digits separates names).
func (l *lexer) lastWasName() bool { return l.prevName }

// run consumes the bytes for which ok holds, in chunks, and returns the
// first maxTokenText of them and their number. A run of digits comes back
// as "0": only the kind of a number matters, and INSERTs hold millions.
func (l *lexer) run(ok func(int) bool) (string, int, error) {
	first := l.word[:0]
	defer func() { l.word = first[:0] }()
	total := 0
	for {
		n := 0
		if l.peek(0) >= 0 {
			for _, c := range l.src.buf[l.src.pos:min(l.src.end, l.src.pos+64<<10)] {
				if !ok(int(c)) {
					break
				}
				n++
			}
		}
		if n == 0 {
			if total < maxTokenText && allDigitBytes(first) {
				return "0", total, nil
			}
			return string(first), total, nil
		}
		if len(first) < maxTokenText {
			first = append(first, l.src.buf[l.src.pos:l.src.pos+min(n, maxTokenText-len(first))]...)
		}
		if err := l.advance(n); err != nil {
			return "", 0, err
		}
		total += n
	}
}

func allDigitBytes(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(int(s[i])) {
			return false
		}
	}
	return true
}

func (l *lexer) digits() error {
	n := 0
	for isDigit(l.peek(n)) {
		n++
	}
	if n == 0 {
		return nil
	}
	return l.advance(n)
}

// numberTail reads the digits after a decimal point and an exponent.
func (l *lexer) numberTail() error {
	if err := l.digits(); err != nil {
		return err
	}
	if c := l.peek(0); c == 'e' || c == 'E' {
		n := 1
		if s := l.peek(1); s == '+' || s == '-' {
			n = 2
		}
		if isDigit(l.peek(n)) {
			if err := l.advance(n); err != nil {
				return err
			}
			return l.digits()
		}
	}
	return nil
}

// lineComment skips a # or -- comment up to the end of the line.
func (l *lexer) lineComment() error {
	n := 0
	for {
		c := l.peek(n)
		if c < 0 || c == '\n' {
			break
		}
		if c == 0 {
			return l.failf("a NUL byte, which mysqldump never writes")
		}
		n++
		if n == 64<<10 {
			if err := l.advance(n); err != nil {
				return err
			}
			n = 0
		}
	}
	if n == 0 {
		return nil
	}
	return l.advance(n)
}

// blockComment reads /* comments. The content of an executable comment
// (/*!, /*!NNNNN, /*M!NNNNN) that the sandbox's version executes is code:
// the lexer goes on in it. Other comments are skipped the way the server
// skips them: a regular one up to the first */, a versioned one for
// another version allowing one nested regular comment.
func (l *lexer) blockComment() (lexResult, error) {
	maria := l.peek(2) == 'M' && l.peek(3) == '!'
	if l.peek(2) != '!' && !maria {
		if err := l.advance(2); err != nil {
			return 0, err
		}
		return lexNothing, l.skipComment(0)
	}
	if l.inExec != 0 {
		return 0, l.failf("an executable comment inside another one")
	}
	marker := 3
	if maria {
		marker = 4
	}
	digits := 0
	for digits < 6 && isDigit(l.peek(marker+digits)) {
		digits++
	}
	if digits < 5 {
		// Not a version comment: always executed.
		l.comments++
		l.inExec = l.comments
		return lexNothing, l.advance(marker)
	}
	version := 0
	for i := 0; i < digits; i++ {
		version = version*10 + l.peek(marker+i) - '0'
	}
	if version <= l.version && (version < 50700 || version > 99999 || maria) {
		l.comments++
		l.inExec = l.comments
		return lexNothing, l.advance(marker + digits)
	}
	if err := l.advance(marker); err != nil {
		return 0, err
	}
	return lexNothing, l.skipComment(1)
}

// skipComment skips to the end of a comment, allowing nested levels of
// regular comments inside (the server's consume_comment).
func (l *lexer) skipComment(nested int) error {
	for {
		c := l.peek(0)
		switch {
		case c < 0:
			if l.src.err != nil {
				return l.readErr()
			}
			return l.failf("the file ends inside a comment")
		case c == 0:
			return l.failf("a NUL byte, which mysqldump never writes")
		case nested > 0 && c == '/' && l.peek(1) == '*':
			if err := l.advance(2); err != nil {
				return err
			}
			if err := l.skipComment(nested - 1); err != nil {
				return err
			}
			continue
		case c == '*' && l.peek(1) == '/':
			return l.advance(2)
		}
		if err := l.advance(1); err != nil {
			return err
		}
	}
}

// quoted reads a string or quoted identifier that starts with q. Doubled
// quotes stand for one; backslash escapes the next byte when escapes is
// set.
func (l *lexer) quoted(q byte, escapes bool) (string, bool, error) {
	if err := l.advance(1); err != nil {
		return "", false, err
	}
	var text []byte
	long := false
	add := func(b ...byte) {
		if l.noText {
			return
		}
		if len(text)+len(b) > maxTokenText {
			long = true
			return
		}
		text = append(text, b...)
	}
	for {
		// Scan what the buffer holds without a call per byte.
		n := 0
		if l.peek(0) >= 0 {
			for _, c := range l.src.buf[l.src.pos:min(l.src.end, l.src.pos+64<<10)] {
				if c == q || (escapes && c == '\\') || c == 0 {
					break
				}
				n++
			}
		}
		if n > 0 {
			add(l.src.buf[l.src.pos : l.src.pos+min(n, maxTokenText+1)]...)
			if err := l.advance(n); err != nil {
				return "", false, err
			}
			continue
		}
		switch c := l.peek(0); {
		case c < 0:
			if l.src.err != nil {
				return "", false, l.readErr()
			}
			return "", false, l.failf("the file ends inside a quoted string or name")
		case c == 0:
			return "", false, l.failf("a NUL byte, which mysqldump never writes")
		case c == '\\':
			if l.peek(1) < 0 {
				return "", false, l.failf("the file ends inside a quoted string")
			}
			add('\\', byte(l.peek(1)))
			if err := l.advance(2); err != nil {
				return "", false, err
			}
		default: // the quote
			if l.peek(1) == int(q) {
				add(q)
				if err := l.advance(2); err != nil {
					return "", false, err
				}
				continue
			}
			return string(text), long, l.advance(1)
		}
	}
}

// variable reads @name, @'name', @@name and @@scope.name. The server reads
// the name after a single @ as a host name when it is not quoted: ASCII
// letters, digits, '.', '_' and '$'.
func (l *lexer) variable(emit func(tokKind, string, bool) (lexResult, error)) (lexResult, error) {
	if l.peek(1) == '@' {
		if err := l.advance(2); err != nil {
			return 0, err
		}
		var parts []string
		for {
			switch c := l.peek(0); {
			case c == '`':
				text, _, err := l.quoted('`', false)
				if err != nil {
					return 0, err
				}
				parts = append(parts, text)
			case isIdentByte(c):
				w, _, err := l.run(isIdentByte)
				if err != nil {
					return 0, err
				}
				parts = append(parts, w)
			default:
				return 0, l.failf("\"@@\" without a variable name")
			}
			if len(parts) == 2 || l.peek(0) != '.' {
				break
			}
			if err := l.advance(1); err != nil {
				return 0, err
			}
		}
		return emit(tokSysVar, strings.Join(parts, "."), false)
	}
	if err := l.advance(1); err != nil {
		return 0, err
	}
	switch c := l.peek(0); c {
	case '\'', '"', '`':
		text, long, err := l.quoted(byte(c), c != '`' && !l.mode.noBackslashEscapes && !(c == '"' && l.mode.ansiQuotes))
		if err != nil {
			return 0, err
		}
		return emit(tokUserVar, text, long)
	}
	text, n, err := l.run(func(c int) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '_' || c == '$'
	})
	if err != nil {
		return 0, err
	}
	if l.peek(0) >= 0x80 {
		return 0, l.failf("a user variable or host name followed by a non-ASCII byte")
	}
	return emit(tokUserVar, text, n > maxTokenText)
}

// atDelimiterCommand reports whether the DELIMITER client command starts
// at the next byte.
func (l *lexer) atDelimiterCommand() bool {
	const cmd = "delimiter"
	for i := 0; i < len(cmd); i++ {
		if c := l.peek(i); c < 0 || byte(c)|0x20 != cmd[i] {
			return false
		}
	}
	c := l.peek(len(cmd))
	return c == ' ' || c == '\t'
}

// delimiterCommand reads "DELIMITER x" up to the end of the line. Only
// delimiters made of ; $ / | are accepted: mysqldump writes ";;", and
// others could start comments, strings or names.
func (l *lexer) delimiterCommand() error {
	n := 0
	for c := l.peek(n); c >= 0 && c != '\n'; c = l.peek(n) {
		n++
		if n > 256 {
			return l.failf("a DELIMITER line longer than 256 bytes")
		}
	}
	line := string(l.src.buf[l.src.pos : l.src.pos+n])
	fields := strings.Fields(line)
	if len(fields) != 2 || len(fields[1]) > 4 || strings.Trim(fields[1], ";$/|") != "" {
		return l.failf("%q: only delimiters of up to 4 of the characters ; $ / | are accepted", strings.TrimSpace(line))
	}
	if err := l.advance(n); err != nil {
		return err
	}
	l.delimiter = fields[1]
	return nil
}
