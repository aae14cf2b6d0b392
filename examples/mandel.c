/*
 * mandel.c - the PNG encoder of mandel.h (the kernel is inline there):
 * libpng, writing through the caller's byte sink, so that
 * examples/mandelbrot can buffer into a file and bench/mandelweb into an
 * HTTP response with the same encoder.
 *
 * libpng reports errors by longjmp to the setjmp in encode(); a sink
 * error is turned into png_error() (libpng prints "libpng error: <the
 * error's text>", as the examples have always shown) and remembered, so
 * that mandel_png() returns the sink's own -errno. Nothing encode()
 * changes after its setjmp is read after a longjmp.
 *
 * Rejected: encoding by hand (stored deflate blocks and a CRC are fifty
 * lines, but the figures would then compare an uncompressed PNG with Go's
 * compressed one); libpng's simplified API (png_image_write_to_memory),
 * which wants the whole transposed RGB image in memory first, where
 * row-at-a-time needs one row.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "examples/mandel.h"

#ifdef HAVE_LIBPNG
#include <png.h>

struct sink {
	mandel_write_fn write;
	void *ctx;
	int err; /* the sink's first error, or 0 */
};

static void sink_write(png_structp png, png_bytep data, size_t size)
{
	struct sink *s = png_get_io_ptr(png);
	int err = s->write(s->ctx, data, size);

	if (err < 0) {
		s->err = err;
		png_error(png, strerror(-err));
	}
}

/* Flushing is the caller's business (mandel.h). */
static void sink_flush(png_structp png)
{
	(void)png;
}

/*
 * Encode through @png into @row, a buffer of one PNG row (h RGB pixels):
 * 0, or -1 if libpng failed (it has printed why).
 */
static int encode(png_structp png, png_infop info, png_bytep row, const unsigned char *gray,
		  int h, int w)
{
	if (setjmp(png_jmpbuf(png)))
		return -1;
	png_set_IHDR(png, info, (png_uint_32)h, (png_uint_32)w, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < w; y++) {
		const unsigned char *g = gray + y;

		for (int x = 0; x < h; x++, g += w)
			row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = *g;
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	return 0;
}

int mandel_png(const unsigned char *gray, int h, int w, mandel_write_fn write, void *ctx)
{
	struct sink s = { .write = write, .ctx = ctx, .err = 0 };
	png_bytep row = malloc((size_t)h * 3);
	png_structp png = NULL;
	png_infop info = NULL;
	int ret = -ENOMEM;

	if (!row)
		return -ENOMEM;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (png)
		info = png_create_info_struct(png);
	if (info) {
		png_set_write_fn(png, &s, sink_write, sink_flush);
		ret = encode(png, info, row, gray, h, w) == 0 ? 0 : s.err < 0 ? s.err : -EPROTO;
	}
	png_destroy_write_struct(&png, &info);
	free(row);
	return ret;
}
#else
int mandel_png(const unsigned char *gray, int h, int w, mandel_write_fn write, void *ctx)
{
	(void)gray, (void)h, (void)w, (void)write, (void)ctx;
	return -ENOSYS;
}
#endif
