package protocol

import (
	"encoding/json"
	"math"
	"strconv"
)

// The control-message codec without reflection. Every lease, result,
// acknowledgement and verdict passes through Encode and Decode, and
// encoding/json's reflection was the largest share of the coordinator's
// CPU after the socket writes (docs/benchmarks.md, "Coordinator").
//
// Both directions are exact, not approximate: appendJSON gives the bytes
// json.Marshal gives, and decodeFast either gives what json.Unmarshal
// gives or declines, and Decode falls back to json.Unmarshal for anything
// it declines (escapes, null, keys spelt another way, numbers an int field
// cannot hold...). FuzzEncodeMatchesJSON and FuzzDecodeFastMatchesJSON
// hold them to that.

// appendJSON appends the JSON of m: encoding/json's bytes for Message
// (fields in struct order, omitempty ones left out when zero).
func (m *Message) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, m.Type)
	b = appendInt(b, `,"version":`, int64(m.Version))
	if len(m.Algorithms) > 0 {
		b = append(b, `,"algorithms":[`...)
		for i, a := range m.Algorithms {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = appendInt(b, `,"slots":`, int64(m.Slots))
	b = appendField(b, `,"agent":`, m.Agent)
	b = appendField(b, `,"volunteer_id":`, m.VolunteerID)
	b = appendField(b, `,"public_key":`, m.PublicKey)
	b = appendField(b, `,"signature":`, m.Signature)
	b = appendField(b, `,"token":`, m.Token)
	b = appendField(b, `,"nickname":`, m.Nickname)
	b = appendField(b, `,"team":`, m.Team)
	b = appendField(b, `,"nonce":`, m.Nonce)
	if m.Enrolled {
		b = append(b, `,"enrolled":true`...)
	}
	b = appendInt(b, `,"heartbeat_ms":`, int64(m.HeartbeatMS))
	b = appendInt(b, `,"ack_ms":`, int64(m.AckMS))
	b = appendInt(b, `,"total_verified":`, m.TotalVerified)
	b = appendFloat(b, `,"credit":`, m.Credit)
	b = appendInt(b, `,"count":`, int64(m.Count))
	b = appendInt(b, `,"lease_id":`, m.LeaseID)
	b = appendField(b, `,"algorithm":`, m.Algorithm)
	b = appendInt(b, `,"deadline":`, m.Deadline)
	b = appendField(b, `,"digest":`, m.Digest)
	b = appendInt(b, `,"size":`, int64(m.Size))
	b = appendFloat(b, `,"cpu_ms":`, m.CPUMS)
	b = appendInt(b, `,"done":`, m.Done)
	b = appendInt(b, `,"total":`, m.Total)
	b = appendField(b, `,"reason":`, m.Reason)
	b = appendField(b, `,"verdict":`, m.Verdict)
	return append(b, '}')
}

func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), v, 10)
}

// appendFloat is encoding/json's float64 form: 'f' notation, 'e' below
// 1e-6 and from 1e21, with a one-digit negative exponent unpadded.
func appendFloat(b []byte, key string, f float64) []byte {
	if f == 0 {
		return b
	}
	b = append(b, key...)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("protocol: unsupported float value " + strconv.FormatFloat(f, 'g', -1, 64)) // as json.Marshal refuses it
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString quotes s as json.Marshal does. Printable ASCII that needs no
// escape is copied; anything else (controls, quotes, HTML characters,
// non-ASCII, invalid UTF-8) goes through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain reports whether c stands for itself inside a JSON string, both as
// json.Marshal writes it (no HTML escape) and as json.Unmarshal reads it.
func plain(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// decodeFast parses the JSON of a control message written the plain way:
// one object, keys exactly as Message spells them, strings without escapes,
// integers without fraction or exponent. ok is false for anything else,
// and then nothing is claimed about b: it may still be valid JSON.
func decodeFast(b []byte) (m Message, ok bool) {
	d := fastDecoder{b: b}
	d.space()
	if !d.byte('{') {
		return m, false
	}
	d.space()
	if d.byte('}') {
		return m, d.end()
	}
	for {
		key, ok := d.raw()
		if !ok {
			return m, false
		}
		d.space()
		if !d.byte(':') {
			return m, false
		}
		d.space()
		if !d.field(&m, key) {
			return m, false
		}
		d.space()
		if d.byte('}') {
			return m, d.end()
		}
		if !d.byte(',') {
			return m, false
		}
		d.space()
	}
}

type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// str reads a string of plain characters.
func (d *fastDecoder) str() (string, bool) {
	b, ok := d.raw()
	return string(b), ok
}

// raw is str without the copy: the bytes between the quotes.
func (d *fastDecoder) raw() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			d.i++
			return d.b[start : d.i-1], true
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// integer reads a JSON integer that fits an int64 with room to spare (at
// most 18 digits), the only numbers an int field takes without error.
func (d *fastDecoder) integer() (int64, bool) {
	neg := d.byte('-')
	digits := d.i
	var v int64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		v = v*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	n := d.i - digits
	if n == 0 || n > 18 || (n > 1 && d.b[digits] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// number reads a JSON number (the grammar of RFC 8259) as a float64.
func (d *fastDecoder) number() (float64, bool) {
	start := d.i
	d.byte('-')
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if n := d.i - digits; n == 0 || (n > 1 && d.b[digits] == '0') {
		return 0, false
	}
	if d.byte('.') && !d.digits() {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if !d.byte('+') {
			d.byte('-')
		}
		if !d.digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	return f, err == nil
}

func (d *fastDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

func (d *fastDecoder) literal(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// field reads the value of key into m; false for a key Message does not
// spell exactly so, or a value of another kind than the field's.
func (d *fastDecoder) field(m *Message, key []byte) bool {
	var s *string
	var n *int64
	var i *int
	var f *float64
	switch string(key) { // no allocation: the compiler compares the bytes
	case "type":
		b, ok := d.raw()
		m.Type = messageType(b)
		return ok
	case "version":
		i = &m.Version
	case "algorithms":
		return d.strings(&m.Algorithms)
	case "slots":
		i = &m.Slots
	case "agent":
		s = &m.Agent
	case "volunteer_id":
		s = &m.VolunteerID
	case "public_key":
		s = &m.PublicKey
	case "signature":
		s = &m.Signature
	case "token":
		s = &m.Token
	case "nickname":
		s = &m.Nickname
	case "team":
		s = &m.Team
	case "nonce":
		s = &m.Nonce
	case "enrolled":
		switch {
		case d.literal("true"):
			m.Enrolled = true
		case d.literal("false"):
			m.Enrolled = false
		default:
			return false
		}
		return true
	case "heartbeat_ms":
		i = &m.HeartbeatMS
	case "ack_ms":
		i = &m.AckMS
	case "total_verified":
		n = &m.TotalVerified
	case "credit":
		f = &m.Credit
	case "count":
		i = &m.Count
	case "lease_id":
		n = &m.LeaseID
	case "algorithm":
		s = &m.Algorithm
	case "deadline":
		n = &m.Deadline
	case "digest":
		s = &m.Digest
	case "size":
		i = &m.Size
	case "cpu_ms":
		f = &m.CPUMS
	case "done":
		n = &m.Done
	case "total":
		n = &m.Total
	case "reason":
		s = &m.Reason
	case "verdict":
		s = &m.Verdict
	default:
		return false
	}
	var ok bool
	switch {
	case s != nil:
		*s, ok = d.str()
	case f != nil:
		*f, ok = d.number()
	default:
		var v int64
		if v, ok = d.integer(); ok {
			if n != nil {
				*n = v
			} else if int64(int(v)) == v {
				*i = int(v)
			} else {
				ok = false
			}
		}
	}
	return ok
}

// messageType is the constant for a known type (no copy per message).
func messageType(b []byte) string {
	for _, t := range [...]string{TypeResult, TypeLease, TypeAck, TypeProgress, TypeVerdict, TypeRequest, TypeError,
		TypeCancel, TypeHello, TypeChallenge, TypeWelcome, TypeFatal} {
		if string(b) == t {
			return t
		}
	}
	return string(b)
}

// strings reads an array of plain strings; [] is an empty, non-nil slice,
// as json.Unmarshal makes it.
func (d *fastDecoder) strings(out *[]string) bool {
	if !d.byte('[') {
		return false
	}
	list := []string{}
	d.space()
	if d.byte(']') {
		*out = list
		return true
	}
	for {
		s, ok := d.str()
		if !ok {
			return false
		}
		list = append(list, s)
		d.space()
		if d.byte(']') {
			*out = list
			return true
		}
		if !d.byte(',') {
			return false
		}
		d.space()
	}
}
