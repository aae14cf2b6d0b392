// fib.cc - nested fork-join with oneTBB's task_group: the reference of
// bench/fib.c (issue 20: weft within 2x of it at the same thread count).
// fib(N) runs fib(N-1) and fib(N-2) as two tasks of a task_group and
// waits for them (tg.wait(): the waiting thread runs other tasks meanwhile,
// which is what weft's blocked parent cannot do). Same output format:
// "fib: X ns/op", "fib-total: X ms", "# peak-rss-kib: X".
//
// Usage: fib-tbb [-n N]; TBB_THREADS (default: all CPUs) caps the threads,
// as WEFT_PROCS and GOMAXPROCS do for the twins.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sys/resource.h>
#include <thread>

static long fib(long n)
{
	if (n < 2)
		return n;
	long a = 0, b = 0;
	tbb::task_group tg;
	tg.run([&] { a = fib(n - 1); });
	tg.run([&] { b = fib(n - 2); });
	tg.wait();
	return a + b;
}

static long calls(long n)
{
	long a = 1, b = 1;
	for (long i = 2; i <= n; i++) {
		long c = a + b + 1;
		a = b;
		b = c;
	}
	return n == 0 ? a : b;
}

int main(int argc, char **argv)
{
	long n = 30;
	for (int i = 1; i < argc; i++) {
		char *end;
		if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			n = std::strtol(argv[++i], &end, 10);
			if (*end == '\0' && n >= 1 && n <= 45)
				continue;
		}
		std::fprintf(stderr, "usage: %s [-n N]   (1 <= N <= 45)\n", argv[0]);
		return 2;
	}
	const char *env = std::getenv("TBB_THREADS");
	long threads = env && *env ? std::atol(env) : (long)std::thread::hardware_concurrency();
	if (threads < 1)
		threads = 1;
	tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)threads);
	std::printf("# tbb threads=%ld n=%ld calls=%ld\n", threads, n, calls(n));

	long r = 0;
	auto t0 = std::chrono::steady_clock::now();
	{
		tbb::task_group tg;
		tg.run([&] { r = fib(n); });
		tg.wait();
	}
	double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
	long x = 0, y = 1;
	for (long i = 0; i < n; i++) {
		long z = x + y;
		x = y;
		y = z;
	}
	if (r != x) {
		std::fprintf(stderr, "fib: fib(%ld) = %ld, want %ld\n", n, r, x);
		return 1;
	}
	std::printf("fib: %.1f ns/op\n", ms * 1e6 / (double)calls(n));
	std::printf("fib-total: %.1f ms\n", ms);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		std::printf("# peak-rss-kib: %ld\n", ru.ru_maxrss);
	return 0;
}
