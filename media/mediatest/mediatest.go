// Package mediatest makes the test images the media, channel and browser
// tests share: plain JPEG and PNG pictures, and a JPEG carrying EXIF with a
// GPS position, a camera make and an orientation.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// JPEG is a w×h JPEG whose left half is red and right half blue.
func JPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{200, 20, 20, 255}
			if x >= w/2 {
				c = color.RGBA{20, 20, 200, 255}
			}
			m.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 0x80
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// GPSLat, GPSLon: the GPS position written into the test EXIF: 31°13'48" N 121°28'12" E
// (Shanghai), as rationals; and a marker string in the camera's make.
var GPSLat = [3][2]uint32{{31, 1}, {13, 1}, {48, 1}}
var GPSLon = [3][2]uint32{{121, 1}, {28, 1}, {12, 1}}

// Marker is the camera make written into the EXIF: no output may contain it.
const Marker = "KefuSecretCam"

// WithEXIF puts an APP1 Exif segment right after the JPEG's SOI: IFD0 with
// the camera make, the orientation and a GPS IFD (latitude, longitude).
func WithEXIF(t testing.TB, jpg []byte, orientation uint16) []byte {
	t.Helper()
	le := binary.LittleEndian
	var tiff []byte
	u16 := func(v uint16) { tiff = le.AppendUint16(tiff, v) }
	u32 := func(v uint32) { tiff = le.AppendUint32(tiff, v) }
	entry := func(tag, typ uint16, count, value uint32) { u16(tag); u16(typ); u32(count); u32(value) }
	// Layout: header 8 | IFD0 (3 entries) 2+36+4=42 → 50 | GPS IFD (4 entries)
	// 2+48+4=54 → 104 | lat 24 → 128 | lon 24 → 152 | make 14 → 166
	const ifd0, gpsIFD, latOff, lonOff, makeOff = 8, 50, 104, 128, 152
	tiff = append(tiff, 'I', 'I')
	u16(42)
	u32(ifd0)
	u16(3)
	entry(0x010f, 2, uint32(len(Marker)+1), makeOff) // Make
	entry(0x0112, 3, 1, uint32(orientation))         // Orientation (SHORT, in the value field)
	entry(0x8825, 4, 1, gpsIFD)                      // GPSInfo
	u32(0)
	u16(4)
	entry(0x0001, 2, 2, uint32('N')) // GPSLatitudeRef "N\0"
	entry(0x0002, 5, 3, latOff)      // GPSLatitude
	entry(0x0003, 2, 2, uint32('E')) // GPSLongitudeRef "E\0"
	entry(0x0004, 5, 3, lonOff)      // GPSLongitude
	u32(0)
	for _, r := range GPSLat {
		u32(r[0])
		u32(r[1])
	}
	for _, r := range GPSLon {
		u32(r[0])
		u32(r[1])
	}
	tiff = append(tiff, Marker...)
	tiff = append(tiff, 0)
	if len(tiff) != makeOff+len(Marker)+1 {
		t.Fatalf("exif layout: %d bytes", len(tiff))
	}
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(2+6+len(tiff)))
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}
