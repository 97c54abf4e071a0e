// Package csvsafe keeps the cells of CSV exports from being taken for
// formulas when a spreadsheet opens them (CSV injection, CWE-1236), and
// gives them back as they were when a program reads them.
//
// # The rule
//
// A cell that starts with "=", "+", "-", "@", "'", a tab or a carriage
// return is written with a "'" before it: spreadsheets start a formula (or,
// for tab and carriage return, strip what hides one) on the first four, and
// "'" is escaped too so that reading back is unambiguous. Every cell is
// treated alike, whoever wrote its text: a task named "=HYPERLINK(...)" and
// an error message are as dangerous in one column as in another.
//
// The one exception is a cell that is a plain decimal number with a minus
// sign ("-1", "-0.250000"): a spreadsheet reads it as the number it is,
// never as a formula, since it holds no operator, function or reference
// after the sign; a "'" would turn it into text and break sums and sorting
// in the column. Its text reads back unchanged either way.
//
// [Unescape] removes the one "'" that [Escape] added: any cell that starts
// with "'" was escaped, since Escape escapes every such cell. JSON exports
// carry their strings as they are: no JSON reader evaluates them.
package csvsafe

// Escape returns cell as a CSV export writes it (see the package doc).
func Escape(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '@', '\'', '\t', '\r':
		return "'" + cell
	case '-':
		if isNegativeNumber(cell) {
			return cell
		}
		return "'" + cell
	}
	return cell
}

// Unescape returns the cell [Escape] was given: cell without the "'" it
// starts with, if it does.
func Unescape(cell string) string {
	if len(cell) > 0 && cell[0] == '\'' {
		return cell[1:]
	}
	return cell
}

// EscapeRecord escapes every cell of record in place and returns it.
func EscapeRecord(record []string) []string {
	for i, c := range record {
		record[i] = Escape(c)
	}
	return record
}

// UnescapeRecord unescapes every cell of record in place and returns it.
func UnescapeRecord(record []string) []string {
	for i, c := range record {
		record[i] = Unescape(c)
	}
	return record
}

// isNegativeNumber reports whether s is "-" followed by digits, with at
// most one "." between digits: "-1", "-0.5"; not "-", "-1e5", "-1.", "-.5".
func isNegativeNumber(s string) bool {
	digits, dot := 0, false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i+1 < len(s):
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
