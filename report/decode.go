package report

import (
	"encoding/json"
	"errors"
)

// decodeMetrics reads a rollup row's data, as json.Marshal writes metrics:
// {"c":{"name":n,…},"h":{"name":{"bucket":n,…},…}}, into m (emptied
// first).
func decodeMetrics(b []byte, m *metrics) error {
	*m = metrics{}
	var p rowReader
	return p.addTo(b, m)
}

// rowReader adds rollup rows to sums. A report reads thousands of rows (by
// agent over 90 days: 5,400), and encoding/json's maps cost about a
// microsecond an entry; this reads the known shape into slices it reuses
// (no map and no string per row) and then adds them to the sum, falling
// back to encoding/json on anything else (an escaped name, say).
type rowReader struct {
	d      decoder
	counts []rowCount
	hists  []rowHist
	bucks  []rowBucket
	names  map[string]string // each name once, so adding allocates none
}

type rowCount struct {
	name []byte
	v    int64
}

// rowHist is a histogram's name and its buckets, bucks[from:to].
type rowHist struct {
	name     []byte
	from, to int
}

type rowBucket struct {
	b int
	v int64
}

// addTo adds the row b to m; on an error m is unchanged.
func (p *rowReader) addTo(b []byte, m *metrics) error {
	p.d = decoder{b: b}
	p.counts, p.hists, p.bucks = p.counts[:0], p.hists[:0], p.bucks[:0]
	if err := p.row(); err != nil {
		var o metrics
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		m.merge(o, 1)
		for k, h := range o.H { // an empty histogram is kept, as encoding/json keeps it
			if len(h) == 0 && m.H[k] == nil {
				m.H[k] = hist{}
			}
		}
		return nil
	}
	if m.C == nil && len(p.counts) > 0 {
		m.C = map[string]int64{}
	}
	if m.H == nil && len(p.hists) > 0 {
		m.H = map[string]hist{}
	}
	for _, c := range p.counts {
		m.C[p.name(c.name)] += c.v
	}
	for _, rh := range p.hists {
		h := m.H[string(rh.name)]
		if h == nil {
			h = make(hist, rh.to-rh.from)
			m.H[p.name(rh.name)] = h
		}
		for _, bk := range p.bucks[rh.from:rh.to] {
			h[bk.b] += bk.v
		}
	}
	return nil
}

// name is b as a string, allocated once per distinct name.
func (p *rowReader) name(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	if p.names == nil {
		p.names = map[string]string{}
	}
	s := string(b)
	p.names[s] = s
	return s
}

func (p *rowReader) row() error {
	d := &p.d
	err := d.object(func(k []byte) error {
		switch string(k) {
		case "c":
			return d.object(func(name []byte) error {
				v, err := d.int()
				p.counts = append(p.counts, rowCount{name, v})
				return err
			})
		case "h":
			return d.object(func(name []byte) error {
				from := len(p.bucks)
				err := d.intObject(func(b int) error {
					v, err := d.int()
					p.bucks = append(p.bucks, rowBucket{b, v})
					return err
				})
				p.hists = append(p.hists, rowHist{name, from, len(p.bucks)})
				return err
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

// str reads a string without escapes, as a slice of the row.
func (d *decoder) str() ([]byte, error) {
	if !d.byte('"') {
		return nil, errShape
	}
	start := d.i
	for d.i < len(d.b) && d.b[d.i] != '"' {
		if d.b[d.i] == '\\' {
			return nil, errShape
		}
		d.i++
	}
	if d.i >= len(d.b) {
		return nil, errShape
	}
	s := d.b[start:d.i:d.i]
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
func (d *decoder) object(f func(key []byte) error) error {
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
