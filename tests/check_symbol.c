/*
 * check_symbol.c - Check suite "symbol": weft__symbolize names static and
 * exported functions of this (PIE) program and of libc, with an offset
 * inside a function, and falls back to hex for an unknown address.
 *
 * Links runtime/symbol.c directly. Needs this program's .symtab: the test
 * binary must not be stripped.
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "symbol.h"

#include "testutil.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The loop gives the function a body well over 2 bytes, for the +0x2 cases. */
__attribute__((noinline)) static int static_fn(int x)
{
	int i, s = 0;

	for (i = 0; i < x; i++)
		s += i * x ^ (s >> 3);
	return s;
}

int exported_fn(int x);
__attribute__((noinline)) int exported_fn(int x)
{
	return static_fn(x) + 1;
}

/* Taking the address through a volatile keeps static_fn out of line and
 * unrenamed (no .constprop/.isra clone). */
static int (*volatile keep_static)(int) = static_fn;

static const char *fn_addr(int (*fn)(int), size_t off)
{
	return (const char *)(uintptr_t)fn + off;
}

START_TEST(test_static)
{
	char buf[128];

	ck_assert_int_eq(keep_static(3), static_fn(3));
	ck_assert_int_eq(weft__symbolize(fn_addr(static_fn, 0), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "static_fn");
}
END_TEST

START_TEST(test_static_mid)
{
	char buf[128];

	ck_assert_int_eq(weft__symbolize(fn_addr(static_fn, 2), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "static_fn+0x2");
}
END_TEST

START_TEST(test_exported)
{
	char buf[128];

	ck_assert_int_eq(exported_fn(3), static_fn(3) + 1);
	ck_assert_int_eq(weft__symbolize(fn_addr(exported_fn, 0), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "exported_fn");
}
END_TEST

START_TEST(test_libc)
{
	char buf[128];
	int (*volatile pf)(const char *, ...) = printf;
	const char *p = (const char *)(uintptr_t)pf;

	/* "printf" or an alias at the same address ("_IO_printf"); under ASan
	 * printf is its interceptor. */
	ck_assert_int_eq(weft__symbolize(p, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "printf"));
	ck_assert_ptr_null(strchr(buf, '+'));

	ck_assert_int_eq(weft__symbolize(p + 3, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "printf+0x3"));
}
END_TEST

START_TEST(test_unknown)
{
	char buf[128], want[64];
	void *heap = malloc(16);

	ck_assert_ptr_nonnull(heap);
	snprintf(want, sizeof(want), "%p", heap);
	ck_assert_int_eq(weft__symbolize(heap, buf, sizeof(buf)), -ENOENT);
	ck_assert_str_eq(buf, want);
	free(heap);
}
END_TEST

START_TEST(test_truncate)
{
	char buf[8];

	memset(buf, 'X', sizeof(buf));
	ck_assert_int_eq(weft__symbolize(fn_addr(static_fn, 2), buf, 5), 0);
	ck_assert_str_eq(buf, "stat");
	ck_assert_int_eq(buf[5], 'X');

	/* len 0: nothing written, still found. */
	buf[0] = 'Y';
	ck_assert_int_eq(weft__symbolize(fn_addr(static_fn, 0), buf, 0), 0);
	ck_assert_int_eq(buf[0], 'Y');
}
END_TEST

/* As the SIGSEGV handler calls it: on a 64 KiB alternate signal stack. */
static volatile sig_atomic_t sig_ret = 1;
static char sig_buf[128];

static void on_usr1(int sig)
{
	(void)sig;
	sig_ret = weft__symbolize(fn_addr(static_fn, 2), sig_buf, sizeof(sig_buf));
}

START_TEST(test_altstack)
{
	static char stk[64 * 1024];
	stack_t ss = { .ss_sp = stk, .ss_size = sizeof(stk) };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	ck_assert_int_eq(sigaltstack(&ss, NULL), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(sig_ret, 0);
	ck_assert_str_eq(sig_buf, "static_fn+0x2");
}
END_TEST

static Suite *symbol_suite(void)
{
	Suite *s = suite_create("symbol");
	TCase *tc = tcase_create("symbolize");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_static);
	tcase_add_test(tc, test_static_mid);
	tcase_add_test(tc, test_exported);
	tcase_add_test(tc, test_libc);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_altstack);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(symbol_suite)
