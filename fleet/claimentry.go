package fleet

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEntry appends e to b as one JSON object with the fields, names and
// omissions json.Marshal gives it, without reflection: the claims log
// encodes an entry in the goroutine of every target, twice, and
// encoding/json's deep reflective stack would grow each goroutine's
// stack. encoding/json reads it back to the same entry (parseClaims);
// strings are escaped as appendString does, not as json.Marshal does.
func appendEntry(b []byte, e claimEntry) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, e.Kind)
	if e.Run != "" {
		b = append(b, `,"run":`...)
		b = appendString(b, e.Run)
	}
	if e.Target != "" {
		b = append(b, `,"target":`...)
		b = appendString(b, e.Target)
	}
	if e.Outcome != 0 {
		b = append(b, `,"outcome":`...)
		b = appendString(b, e.Outcome.String())
	}
	if e.Phase != "" {
		b = append(b, `,"phase":`...)
		b = appendString(b, e.Phase)
	}
	if e.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(e.Attempts), 10)
	}
	if !e.At.IsZero() {
		b = append(b, `,"at":`...)
		b = appendTime(b, e.At)
	}
	if !e.End.IsZero() {
		b = append(b, `,"end":`...)
		b = appendTime(b, e.End)
	}
	if e.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, e.Error)
	}
	return append(b, '}')
}

// appendTime appends t as time.Time.MarshalJSON does, for the years it
// accepts (0 to 9999; a clock's readings are).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD as
// encoding/json replaces it. Unlike json.Marshal it leaves <, >, & and
// U+2028/U+2029 as they are, which JSON allows.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
