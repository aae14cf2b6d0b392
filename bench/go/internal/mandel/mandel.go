// Package mandel is the workshop's Mandelbrot kernel and picture, shared by
// the Go twins bench/go/mandelbrot and bench/go/mandelweb, as
// examples/mandel.h is by their C sides.
//
// The kernel is the workshop's fillPixel: 1000 iterations, bailout
// |Z|^2 > 4, C = (zoom*x/1000 - 1.5, zoom*y/1000 - 1) where x indexes the
// h dimension and y the w one (the scale is the iteration count, not the
// image size; the workshop's mandelbrot uses zoom 2, its mandelweb zoom 4),
// gray level byte(Tr*Ti*2). The picture is the workshop's: a slice of h
// rows of w color.RGBA, row x holding the pixels of one real part; Bounds
// is Rect(0, 0, h, w) and At(x, y) is row x, column y, so the PNG is h
// pixels wide and w tall and png.Encode reads it through the generic At
// path (one boxed color per pixel, as in the workshop).
package mandel

import (
	"image"
	"image/color"
)

// Picture is the workshop's image.
type Picture struct {
	H, W int
	Zoom float64
	Rows [][]color.RGBA // Rows[x][y]
}

// New is an h x w picture at zoom, all black.
func New(h, w int, zoom float64) *Picture {
	p := &Picture{H: h, W: w, Zoom: zoom, Rows: make([][]color.RGBA, h)}
	for x := range p.Rows {
		p.Rows[x] = make([]color.RGBA, w)
	}
	return p
}

func (p *Picture) ColorModel() color.Model { return color.RGBAModel }
func (p *Picture) Bounds() image.Rectangle { return image.Rect(0, 0, p.H, p.W) }
func (p *Picture) At(x, y int) color.Color { return p.Rows[x][y] }

// Paint computes pixel (x, y).
func (p *Picture) Paint(x, y int) {
	const iters = 1000
	const limit = 2.0
	var zr, zi, tr, ti float64
	cr := p.Zoom*float64(x)/float64(iters) - 1.5
	ci := p.Zoom*float64(y)/float64(iters) - 1.0

	for i := 0; i < iters && tr+ti <= limit*limit; i++ {
		// float64() rounds the product: no fused multiply-add on the
		// CPUs where Go would fuse (arm64, ppc64, s390x), which would
		// change pixels; on amd64 it compiles to the same code.
		zi = float64(2*zr*zi) + ci
		zr = tr - ti + cr
		tr = zr * zr
		ti = zi * zi
	}
	g := uint8(int64(tr * ti * 2))
	p.Rows[x][y] = color.RGBA{g, g, g, 255}
}

// PaintRow computes row x.
func (p *Picture) PaintRow(x int) {
	for y := range p.Rows[x] {
		p.Paint(x, y)
	}
}
