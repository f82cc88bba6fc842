package report

import (
	"encoding/json"
	"errors"
)

// decodeMetrics reads a rollup row's data, as json.Marshal writes metrics:
// {"c":{"name":n,…},"h":{"name":{"bucket":n,…},…}}. A report reads
// thousands of rows (by agent over 90 days: 5,400), and encoding/json's
// maps cost about a microsecond an entry; this reads the known shape
// directly and falls back to encoding/json on anything else.
func decodeMetrics(b []byte, m *metrics) error {
	d := decoder{b: b}
	if err := d.metrics(m); err != nil {
		*m = metrics{}
		return json.Unmarshal(b, m)
	}
	return nil
}

type decoder struct {
	b []byte
	i int
}

var errShape = errors.New("not the rollup shape")

func (d *decoder) skipSpace() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\n' || d.b[d.i] == '\t' || d.b[d.i] == '\r') {
		d.i++
	}
}

func (d *decoder) byte(c byte) bool {
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string without escapes.
func (d *decoder) str() (string, error) {
	if !d.byte('"') {
		return "", errShape
	}
	start := d.i
	for d.i < len(d.b) && d.b[d.i] != '"' {
		if d.b[d.i] == '\\' {
			return "", errShape
		}
		d.i++
	}
	if d.i >= len(d.b) {
		return "", errShape
	}
	s := string(d.b[start:d.i])
	d.i++
	return s, nil
}

func (d *decoder) int() (int64, error) {
	d.skipSpace()
	return d.digits(len(d.b))
}

// digits reads an integer ending before end (at most 18 digits).
func (d *decoder) digits(end int) (int64, error) {
	neg := false
	if d.i < end && d.b[d.i] == '-' {
		neg = true
		d.i++
	}
	start := d.i
	var v int64
	for d.i < end && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		v = v*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	if d.i == start || d.i-start > 18 {
		return 0, errShape
	}
	if neg {
		v = -v
	}
	return v, nil
}

// intKey reads a quoted integer ("-1", "512").
func (d *decoder) intKey() (int, error) {
	if !d.byte('"') {
		return 0, errShape
	}
	v, err := d.digits(len(d.b))
	if err != nil || !d.byte('"') {
		return 0, errShape
	}
	return int(v), nil
}

// object calls f for each key of an object.
func (d *decoder) object(f func(key string) error) error {
	if !d.byte('{') {
		return errShape
	}
	if d.byte('}') {
		return nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if !d.byte(':') {
			return errShape
		}
		if err := f(k); err != nil {
			return err
		}
		if d.byte(',') {
			continue
		}
		if d.byte('}') {
			return nil
		}
		return errShape
	}
}

// intObject is object for integer keys.
func (d *decoder) intObject(f func(key int) error) error {
	if !d.byte('{') {
		return errShape
	}
	if d.byte('}') {
		return nil
	}
	for {
		k, err := d.intKey()
		if err != nil {
			return err
		}
		if !d.byte(':') {
			return errShape
		}
		if err := f(k); err != nil {
			return err
		}
		if d.byte(',') {
			continue
		}
		if d.byte('}') {
			return nil
		}
		return errShape
	}
}

func (d *decoder) metrics(m *metrics) error {
	err := d.object(func(k string) error {
		switch k {
		case "c":
			m.C = map[string]int64{}
			return d.object(func(name string) error {
				v, err := d.int()
				m.C[name] = v
				return err
			})
		case "h":
			m.H = map[string]hist{}
			return d.object(func(name string) error {
				h := hist{}
				m.H[name] = h
				return d.intObject(func(b int) error {
					v, err := d.int()
					h[b] = v
					return err
				})
			})
		}
		return errShape
	})
	if err != nil {
		return err
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return errShape
	}
	return nil
}
