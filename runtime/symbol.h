/*
 * symbol.h - address to function name, for fatal reports (internal).
 *
 * Used by the SIGSEGV handler (stack overflow report, on a 64 KiB
 * alternate signal stack) and by the deadlock report to name the function
 * a task was running or is parked in. See symbol.c for how it works and
 * why it reads the ELF file itself instead of trusting dladdr alone.
 */
#ifndef WEFT_SYMBOL_H
#define WEFT_SYMBOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * weft__symbolize - name the function that contains @addr.
 *
 * @addr: a code address (an instruction pointer, a task's entry function).
 *        For a return address taken from a stack, pass addr - 1 so that a
 *        call at the very end of a function is not attributed to the next.
 * @buf:  receives a NUL-terminated string, truncated to fit: "worker" when
 *        @addr is the start of the function, "worker+0x1c" when it is
 *        inside it, "0x7f12a0c4" when nothing is known.
 * @len:  size of @buf in bytes; with 0 nothing is written.
 *
 * Finds static (local) functions as well as exported ones, in the main
 * executable (PIE or not) and in shared libraries, as long as the file on
 * disk still has its .symtab (not stripped); otherwise .dynsym, which only
 * has exported names.
 *
 * Returns 0 if a symbol was found; -ENOENT if not (@buf then holds the hex
 * form of @addr).
 *
 * Does not block on other tasks; takes the dynamic loader's lock (through
 * dladdr and dl_iterate_phdr), so it must not be called from a signal that
 * interrupted dlopen/dlclose on the same thread. No malloc, no stdio, under
 * 1 KiB of stack: callable on fatal paths and on the alternate signal stack.
 * Any thread.
 */
int weft__symbolize(const void *addr, char *buf, size_t len);

/*
 * The tracer's symbolizer (trace_flush.c names entry functions and call
 * sites while the program runs): every object loaded when the trace
 * starts is opened and mapped once, by weft__symcache_load on the thread
 * that calls weft_trace_start, and weft__symbolize_cached never opens a
 * file. A runtime that opened files on a background thread would take fd
 * numbers the program counts on ("close(0); open(...)" reopening stdin;
 * a close followed by dup2 onto the same number fails with EBUSY while
 * another thread's open holds the number half-made). Objects loaded after
 * the start are named from dladdr (exported names) or in hex.
 */
struct weft__symobj {
	uintptr_t bias;      /* dlpi_addr */
	const void *phdr;    /* dlpi_phdr: identifies the object while loaded */
	size_t phnum;
	uintptr_t probe;     /* an address inside it (its first PT_LOAD) */
	bool main;           /* the main program (no name) */
	char *path;          /* its file (malloc'd); NULL for the main program */
	const unsigned char *map; /* the file, mapped read-only; NULL: none */
	size_t size;
};

struct weft__symcache {
	struct weft__symobj *obj;
	int n, cap;
};

/* Map every loaded object's file (allocates, opens files): how many were mapped. */
int weft__symcache_load(struct weft__symcache *c);
/* Unmap and free: nobody may use @c any more. */
void weft__symcache_drop(struct weft__symcache *c);
/* As weft__symbolize, from @c's mappings: opens no file, allocates nothing. */
int weft__symbolize_cached(const struct weft__symcache *c, const void *addr, char *buf,
			   size_t len);

#endif /* WEFT_SYMBOL_H */
