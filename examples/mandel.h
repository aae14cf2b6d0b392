/*
 * mandel.h - the workshop's Mandelbrot kernel and its PNG encoder, shared
 * by examples/mandelbrot (a picture to a file) and bench/mandelweb (a
 * picture per HTTP request), so that both paint and encode the same thing.
 *
 * The kernel is Dave Cheney's workshop's fillPixel and paint, to the bit:
 * pixel (x, y) is the point C = (zoom*x/1000 - 1.5) + (zoom*y/1000 - 1)i,
 * iterated at most 1000 times while Tr + Ti <= 4 in exactly the Go
 * expression order, painted gray (unsigned char)(long)(Tr * Ti * 2). The
 * scale is the iteration count (1000), not the image size. The workshop's
 * mandelbrot program uses zoom 2 (its 1024x1024 picture covers
 * [-1.5, 0.546] x [-1, 1.046]); its mandelweb uses zoom 4 on 512x512 (the
 * same square). Files that include this header must be compiled without
 * floating-point contraction (-ffp-contract=off, FP_STRICT_CFLAGS in
 * Makefile.am): a fused multiply-add in `2 * zr * zi + ci` changes pixels,
 * and the Go twins round every product.
 *
 * The conversion goes through long because Go's byte() of the product
 * truncates and wraps modulo 256 (the product can exceed 800) while C's
 * float-to-unsigned-char conversion of such a value is undefined; through
 * long it is exact for |C| < 92, which the callers' size limits keep.
 *
 * The image layout of both programs: gray[x * w + y], h rows of w, row x
 * holding one real part, as the workshop's [][]color.RGBA (one byte a
 * pixel here). The workshop's image reports Bounds() = (0, 0, h, w) and
 * At(x, y) = row x, column y, so its PNG is h pixels wide and w tall.
 */
#ifndef WEFT_EXAMPLES_MANDEL_H
#define WEFT_EXAMPLES_MANDEL_H

#include <stddef.h>

/* The workshop's fillPixel: the gray level of pixel (x, y) at @zoom. */
static inline unsigned char mandel_gray(double zoom, int x, int y)
{
	const int n = 1000;
	const double limit = 2.0;
	double zr = 0, zi = 0, tr = 0, ti = 0;
	double cr = zoom * (double)x / n - 1.5;
	double ci = zoom * (double)y / n - 1.0;

	for (int i = 0; i < n && tr + ti <= limit * limit; i++) {
		zi = 2 * zr * zi + ci;
		zr = tr - ti + cr;
		tr = zr * zr;
		ti = zi * zi;
	}
	return (unsigned char)(long)(tr * ti * 2);
}

/*
 * The byte sink of mandel_png(): take @n bytes at @data; 0, or -errno to
 * stop the encoding (mandel_png() then returns that error).
 */
typedef int (*mandel_write_fn)(void *ctx, const void *data, size_t n);

/*
 * mandel_png - encode @gray (h rows of w, gray[x * w + y]) as the
 * workshop's PNG: h pixels wide, w tall, 8-bit RGB (what Go's encoder
 * writes for an opaque RGBA image), zlib level 6 and adaptive filters as
 * Go's defaults, every byte through @write(@ctx, ...). The caller buffers
 * and flushes as it likes; mandel_png() never flushes.
 *
 * Returns 0; -ENOMEM; the first error @write returned; -EPROTO if libpng
 * failed otherwise (it has said why on stderr). -ENOSYS in a build
 * without libpng (HAVE_LIBPNG unset; configure's summary says). Calls no
 * weft function: the caller's @write decides what blocks.
 */
int mandel_png(const unsigned char *gray, int h, int w, mandel_write_fn write, void *ctx);

#endif /* WEFT_EXAMPLES_MANDEL_H */
