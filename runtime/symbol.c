/*
 * symbol.c - address to function name, for fatal reports.
 *
 * What: weft__symbolize(addr) -> "func", "func+0x1c" or "0x7f..." for the
 * stack overflow and deadlock reports. It runs on fatal paths (a SIGSEGV
 * handler on a 64 KiB alternate stack), so it uses no malloc and no stdio,
 * only open/fstat/mmap/munmap/close, and a few hundred bytes of stack.
 *
 * How:
 *  1. dladdr(addr). If it names a symbol that starts exactly at addr (the
 *     common case for a task's entry function when it is exported), that is
 *     the answer. dladdr only sees .dynsym, the exported names, so a static
 *     function, or any function of an executable not linked with -rdynamic,
 *     is invisible to it; and libcs differ on whether it checks st_size, so
 *     a non-exact answer may name the wrong (preceding) function.
 *  2. Otherwise find the object whose PT_LOAD segment holds addr with
 *     dl_iterate_phdr, which also gives the load bias (dlpi_addr). dladdr's
 *     dli_fbase is the lowest mapping, which is not the bias for a non-PIE
 *     executable, so it is not used for the arithmetic. The main program is
 *     the entry with an empty name; its file is /proc/self/exe, because
 *     dli_fname for it is argv[0], which may be relative to a directory the
 *     program has since left, or not a path at all. argv[0] is still tried
 *     second, for a program started as "ld.so ./prog", where
 *     /proc/self/exe is the loader. A file is used only if its program
 *     headers equal the loaded ones (elf_is_loaded), so a wrong guess or a
 *     library replaced on disk gives no name rather than a wrong one.
 *  3. mmap that file read-only and search .symtab (all names, static ones
 *     included), falling back to .dynsym when the file is stripped, for the
 *     STT_FUNC or STT_GNU_IFUNC symbol whose [st_value, st_value + st_size)
 *     contains addr - bias.
 *  4. If the file cannot be read (the vDSO has no file; a deleted library),
 *     use dladdr's name with an offset, which glibc's size check makes
 *     right; else the hex form and -ENOENT.
 *
 * The tracer (trace_flush.c names entry functions and call sites while
 * the program runs) uses weft__symcache: weft_trace_start maps the file
 * of every object loaded then, once, on the caller's thread, and
 * weft__symbolize_cached searches those mappings and never opens a file
 * or allocates (so the trace's death paths may use it too). An object
 * loaded after the start is named from dladdr (exported names) or in hex.
 *
 * Choosing among symbols: the one with the highest start that contains the
 * address (nested or overlapping sizes are rare but exist in hand-written
 * code); among aliases at the same start, GLOBAL over WEAK over LOCAL, then
 * a name without a leading underscore ("printf" over "_IO_printf"). A
 * function without a size (an assembly routine missing its .size, such as
 * a context switch) is accepted only if it is the nearest function start
 * below the address and its section also contains the address: better a
 * plausible name than none in a crash report, but never a name that a
 * sized function proves wrong.
 *
 * The ELF file is treated as untrusted bytes (it may be truncated, or
 * replaced on disk while we run): every offset and count is checked against
 * the file size before use.
 *
 * Rejected:
 *  - backtrace_symbols_fd / libbacktrace / libdw: the first only knows
 *    .dynsym; the others allocate and are heavy dependencies for a crash
 *    message.
 *  - A cache of the parsed tables for fatal reports: a fatal report
 *    symbolizes a handful of addresses once; mapping the file per call
 *    costs microseconds and keeps no state that could be half-updated
 *    when a signal arrives. The tracer is different (below).
 *  - The tracer opening files as it meets new functions (it did, through
 *    weft__symbolize, on its flusher thread): a runtime that opens files
 *    on a thread of its own takes fd numbers the program counts on - a
 *    close(0) then open() to reopen stdin gets the wrong number, and a
 *    close then dup2 onto the same number fails with EBUSY when it lands
 *    between the other thread's fd allocation and its install (the
 *    netpoller stress test did, one round in forty).
 *  - Reading the symbols from memory: .symtab is not part of any PT_LOAD
 *    segment, so it is only in the file.
 *  - Following .gnu_debuglink to separate debug files: needs path building
 *    and a second file; not worth it yet (distribution libraries keep their
 *    exported names in .dynsym, which is found).
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* dladdr, dl_iterate_phdr */
#endif

#include "symbol.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- formatting into the caller's buffer (no stdio) ---- */

struct out {
	char *p;
	size_t len, cap; /* cap == 0: write nothing */
};

static void out_init(struct out *o, char *buf, size_t cap)
{
	o->p = buf;
	o->len = 0;
	o->cap = cap;
	if (cap)
		buf[0] = '\0';
}

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->cap) {
		o->p[o->len++] = c;
		o->p[o->len] = '\0';
	}
}

/* At most @max bytes of @s: names come from a file and may lack a NUL. */
static void out_strn(struct out *o, const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i]; i++)
		out_char(o, s[i]);
}

static void out_hex(struct out *o, uintptr_t v)
{
	char tmp[2 * sizeof(v)];
	int n = 0;

	out_char(o, '0');
	out_char(o, 'x');
	do {
		tmp[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	while (n)
		out_char(o, tmp[--n]);
}

static void out_name(struct out *o, const char *name, size_t max, uintptr_t off)
{
	out_strn(o, name, max);
	if (off) {
		out_char(o, '+');
		out_hex(o, off);
	}
}

/* ---- which loaded object holds the address ---- */

struct find_obj {
	uintptr_t addr;
	uintptr_t bias;         /* out: dlpi_addr */
	const char *name;       /* out: dlpi_name ("" for the main program) */
	const ElfW(Phdr) *phdr; /* out: the program headers as loaded */
	size_t phnum;
	int found;
};

static int find_obj_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find_obj *f = data;
	ElfW(Half) i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (f->addr >= start && f->addr - start < ph->p_memsz) {
			f->bias = info->dlpi_addr;
			f->name = info->dlpi_name;
			f->phdr = info->dlpi_phdr;
			f->phnum = info->dlpi_phnum;
			f->found = 1;
			return 1; /* stop iterating */
		}
	}
	return 0;
}

/* ---- ELF symbol table search ---- */

struct elf_file {
	const unsigned char *base;
	size_t size;
	const ElfW(Shdr) *sh;
	size_t shnum;
};

struct best {
	const char *name; /* points into the mapping */
	size_t name_max;  /* bytes left in the string table after name */
	uintptr_t start;
	int rank;
};

/* Is [off, off + len) inside the file? Written to not overflow. */
static int in_file(const struct elf_file *e, uint64_t off, uint64_t len)
{
	return off <= e->size && len <= e->size - off;
}

static int elf_open(struct elf_file *e, const unsigned char *base, size_t size)
{
	const ElfW(Ehdr) *eh = (const void *)base;
	size_t shnum;

	e->base = base;
	e->size = size;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	/* Only our own class: the object was loaded into this process. */
#if UINTPTR_MAX == 0xffffffffffffffffu
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return -ENOEXEC;
#else
	if (eh->e_ident[EI_CLASS] != ELFCLASS32)
		return -ENOEXEC;
#endif
	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(ElfW(Shdr)) ||
	    !in_file(e, eh->e_shoff, sizeof(ElfW(Shdr))))
		return -ENOEXEC;
	if (eh->e_shoff % _Alignof(ElfW(Shdr)))
		return -ENOEXEC;
	e->sh = (const void *)(base + eh->e_shoff);
	/* More than 0xff00 sections: the count is in section 0's sh_size. */
	shnum = eh->e_shnum ? eh->e_shnum : e->sh[0].sh_size;
	if (shnum > (size - eh->e_shoff) / sizeof(ElfW(Shdr)))
		return -ENOEXEC;
	e->shnum = shnum;
	return 0;
}

/*
 * Is this file the object that is loaded? Its program headers must equal
 * the loaded ones byte for byte. This catches /proc/self/exe naming the
 * dynamic loader (a program started as "ld.so ./prog"), an argv[0] that
 * names some other file, and a library replaced on disk since it was
 * loaded (a package upgrade under a running process).
 */
static int elf_is_loaded(const struct elf_file *e, const struct find_obj *f)
{
	const ElfW(Ehdr) *eh = (const void *)e->base;

	return eh->e_phentsize == sizeof(ElfW(Phdr)) && eh->e_phnum == f->phnum &&
	       in_file(e, eh->e_phoff, f->phnum * sizeof(ElfW(Phdr))) &&
	       memcmp(e->base + eh->e_phoff, f->phdr, f->phnum * sizeof(ElfW(Phdr))) == 0;
}

/* Higher is a better name among aliases at one address. */
static int sym_rank(const ElfW(Sym) *s, const char *name)
{
	int r;

	switch (ELF64_ST_BIND(s->st_info)) {
	case STB_GLOBAL:
		r = 4;
		break;
	case STB_WEAK:
		r = 2;
		break;
	default:
		r = 0;
		break;
	}
	return r + (name[0] != '_');
}

/*
 * Search the first section of type @type for the function holding @rel (an
 * address as the file sees it, i.e. minus the load bias). Returns 0 and
 * fills @b, or -ENOENT.
 */
static int elf_search(const struct elf_file *e, uint32_t type, uintptr_t rel, struct best *b)
{
	const ElfW(Shdr) *symsh = NULL, *strsh;
	const ElfW(Sym) *sym;
	const char *strtab;
	size_t i, n, strsz;
	/* The nearest function start at or below rel, sized or not. */
	const ElfW(Sym) *near = NULL;

	for (i = 0; i < e->shnum; i++) {
		if (e->sh[i].sh_type == type) {
			symsh = &e->sh[i];
			break;
		}
	}
	if (!symsh || symsh->sh_link >= e->shnum ||
	    (symsh->sh_entsize && symsh->sh_entsize != sizeof(ElfW(Sym))) ||
	    !in_file(e, symsh->sh_offset, symsh->sh_size) ||
	    symsh->sh_offset % _Alignof(ElfW(Sym)))
		return -ENOENT;
	strsh = &e->sh[symsh->sh_link];
	if (strsh->sh_type != SHT_STRTAB || !in_file(e, strsh->sh_offset, strsh->sh_size))
		return -ENOENT;

	sym = (const void *)(e->base + symsh->sh_offset);
	n = symsh->sh_size / sizeof(ElfW(Sym));
	strtab = (const char *)e->base + strsh->sh_offset;
	strsz = strsh->sh_size;
	b->name = NULL;

	for (i = 0; i < n; i++) {
		const ElfW(Sym) *s = &sym[i];
		int t = ELF64_ST_TYPE(s->st_info);
		const char *name;
		int rank;

		if ((t != STT_FUNC && t != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
		    s->st_value > rel || s->st_name == 0 || s->st_name >= strsz)
			continue;
		name = strtab + s->st_name;
		/* On a tie keep the sized one: it may prove rel is in a gap. */
		if (!near || s->st_value > near->st_value ||
		    (s->st_value == near->st_value && s->st_size > near->st_size))
			near = s;
		if (rel - s->st_value >= s->st_size && !(s->st_size == 0 && s->st_value == rel))
			continue;
		rank = sym_rank(s, name);
		if (!b->name || s->st_value > b->start || (s->st_value == b->start && rank > b->rank)) {
			b->name = name;
			b->name_max = strsz - s->st_name;
			b->start = s->st_value;
			b->rank = rank;
		}
	}
	if (b->name)
		return 0;

	/*
	 * No sized function holds rel. Accept a size-less one (assembly without
	 * .size) if it is the nearest start below rel and its section spans rel.
	 */
	if (near && near->st_size == 0 && near->st_shndx < e->shnum &&
	    near->st_name < strsz) {
		const ElfW(Shdr) *sec = &e->sh[near->st_shndx];

		if (rel >= sec->sh_addr && rel - sec->sh_addr < sec->sh_size) {
			b->name = strtab + near->st_name;
			b->name_max = strsz - near->st_name;
			b->start = near->st_value;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Map the ELF file at @path read-only if it is the object @f found (its
 * program headers equal the loaded ones). 0 with @e set (the caller
 * munmaps e->base, e->size), or -ENOENT.
 */
static int map_file(const char *path, const struct find_obj *f, struct elf_file *e)
{
	struct stat st;
	void *map;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT; /* why it failed does not matter to a crash report */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return -ENOENT;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd); /* the mapping keeps the file */
	if (map == MAP_FAILED)
		return -ENOENT;
	if (elf_open(e, map, (size_t)st.st_size) != 0 || !elf_is_loaded(e, f)) {
		munmap(map, (size_t)st.st_size);
		return -ENOENT;
	}
	return 0;
}

/* Name f->addr from the mapped object @e into @o. 0, or -ENOENT. */
static int symbolize_elf(const struct elf_file *e, const struct find_obj *f, struct out *o)
{
	uintptr_t rel = f->addr - f->bias;
	struct best b;
	int err;

	err = elf_search(e, SHT_SYMTAB, rel, &b);
	if (err)
		err = elf_search(e, SHT_DYNSYM, rel, &b);
	if (err)
		return -ENOENT;
	out_name(o, b.name, b.name_max, rel - b.start);
	return 0;
}

/*
 * Symbolize f->addr with the ELF file at @path, which must be the object
 * @f found, into @o. Writes to @o only on success. Returns 0, or -ENOENT if
 * the file cannot be read, is not that object, or has no symbol there.
 */
static int symbolize_file(const char *path, const struct find_obj *f, struct out *o)
{
	struct elf_file e;
	int err;

	if (map_file(path, f, &e) != 0)
		return -ENOENT;
	err = symbolize_elf(&e, f, o);
	/*
	 * A file truncated after we mapped it would SIGBUS above; a fatal
	 * report racing with a rewrite of its own executable is not worth a
	 * SIGBUS handler.
	 */
	munmap((void *)e.base, e.size);
	return err;
}

/* The object holding @a (f->found), as dl_iterate_phdr reports it. */
static void find_obj(uintptr_t a, struct find_obj *f)
{
	f->addr = a;
	f->found = 0;
	f->bias = 0;
	f->name = NULL;
	f->phdr = NULL;
	f->phnum = 0;
	dl_iterate_phdr(find_obj_cb, f);
}

/* dladdr's answer when it is the only one: "name+0x1c", or the hex form. */
static int symbolize_dl(int have_dl, const Dl_info *info, uintptr_t a, struct out *o)
{
	if (have_dl && info->dli_sname && info->dli_saddr && (uintptr_t)info->dli_saddr < a) {
		out_name(o, info->dli_sname, SIZE_MAX, a - (uintptr_t)info->dli_saddr);
		return 0;
	}
	out_hex(o, a);
	return -ENOENT;
}

/*
 * What both symbolizers do first: an address that is exactly an exported
 * symbol is named by dladdr (written to @o: true); otherwise @f is the
 * loaded object it lies in, for the caller to read its symbol table, with
 * dladdr's answer in @info (*@have_dl) as the last resort.
 */
static bool symbolize_begin(uintptr_t a, struct out *o, Dl_info *info, int *have_dl,
			    struct find_obj *f)
{
	memset(info, 0, sizeof(*info));
	*have_dl = dladdr((const void *)a, info) != 0;
	if (*have_dl && info->dli_sname && (uintptr_t)info->dli_saddr == a) {
		out_strn(o, info->dli_sname, SIZE_MAX);
		return true;
	}
	find_obj(a, f);
	return false;
}

int weft__symbolize(const void *addr, char *buf, size_t len)
{
	struct out o;
	struct find_obj f;
	Dl_info info;
	int have_dl;
	uintptr_t a = (uintptr_t)addr;

	out_init(&o, buf, len);
	if (symbolize_begin(a, &o, &info, &have_dl, &f))
		return 0;
	if (f.found && f.name && f.name[0]) {
		if (symbolize_file(f.name, &f, &o) == 0)
			return 0;
	} else if (f.found) {
		/*
		 * The main program. /proc/self/exe is the dynamic loader when the
		 * program was started as "ld.so ./prog"; then dladdr's dli_fname
		 * (argv[0] as the loader saw it) is the next best guess.
		 */
		if (symbolize_file("/proc/self/exe", &f, &o) == 0)
			return 0;
		if (have_dl && info.dli_fname && info.dli_fname[0] &&
		    symbolize_file(info.dli_fname, &f, &o) == 0)
			return 0;
	}
	return symbolize_dl(have_dl, &info, a, &o);
}

/* ---- the tracer's cache: every object mapped once, at trace start ---- */

/* dl_iterate_phdr callback: note each object (its file is opened later,
 * outside the loader's lock). */
static int collect_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct weft__symcache *c = data;
	struct weft__symobj *o;

	(void)size;
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 16;
		struct weft__symobj *a = realloc(c->obj, (size_t)cap * sizeof(*a));
		if (!a)
			return 1; /* the objects noted so far; the rest get dladdr's names */
		c->obj = a;
		c->cap = cap;
	}
	o = &c->obj[c->n++];
	memset(o, 0, sizeof(*o));
	o->bias = info->dlpi_addr;
	o->phdr = info->dlpi_phdr;
	o->phnum = info->dlpi_phnum;
	o->main = !info->dlpi_name || !info->dlpi_name[0];
	if (!o->main && !(o->path = strdup(info->dlpi_name)))
		o->probe = 0; /* no memory: this one gets dladdr's names */
	for (ElfW(Half) i = 0; i < info->dlpi_phnum && (o->main || o->path); i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD) {
			o->probe = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			break;
		}
	return 0;
}

int weft__symcache_load(struct weft__symcache *c)
{
	int mapped = 0;

	memset(c, 0, sizeof(*c));
	dl_iterate_phdr(collect_cb, c);
	for (int i = 0; i < c->n; i++) {
		struct weft__symobj *o = &c->obj[i];
		struct find_obj f = { .bias = o->bias, .phdr = o->phdr, .phnum = o->phnum };
		struct elf_file e;
		int err = -ENOENT;

		if (!o->probe)
			continue;
		if (!o->main) {
			err = map_file(o->path, &f, &e);
		} else {
			/* As weft__symbolize: /proc/self/exe, then argv[0] (dladdr). */
			Dl_info info;
			err = map_file("/proc/self/exe", &f, &e);
			if (err && dladdr((const void *)o->probe, &info) && info.dli_fname &&
			    info.dli_fname[0])
				err = map_file(info.dli_fname, &f, &e);
		}
		if (err)
			continue; /* the vDSO, a deleted library: dladdr's names */
		o->map = e.base;
		o->size = e.size;
		mapped++;
	}
	return mapped;
}

void weft__symcache_drop(struct weft__symcache *c)
{
	for (int i = 0; i < c->n; i++) {
		if (c->obj[i].map)
			munmap((void *)c->obj[i].map, c->obj[i].size);
		free(c->obj[i].path);
	}
	free(c->obj);
	memset(c, 0, sizeof(*c));
}

int weft__symbolize_cached(const struct weft__symcache *c, const void *addr, char *buf,
			   size_t len)
{
	struct out o;
	struct find_obj f;
	Dl_info info;
	int have_dl;
	uintptr_t a = (uintptr_t)addr;

	out_init(&o, buf, len);
	if (symbolize_begin(a, &o, &info, &have_dl, &f))
		return 0;
	if (f.found) {
		for (int i = 0; i < c->n; i++) {
			const struct weft__symobj *ob = &c->obj[i];
			struct elf_file e;

			/* The same object: a library unloaded and another loaded at
			 * its place has other program headers (or another bias). */
			if (!ob->map || ob->bias != f.bias || ob->phdr != f.phdr)
				continue;
			if (elf_open(&e, ob->map, ob->size) == 0 && symbolize_elf(&e, &f, &o) == 0)
				return 0;
			break;
		}
	}
	return symbolize_dl(have_dl, &info, a, &o);
}
