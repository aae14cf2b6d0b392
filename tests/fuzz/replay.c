/*
 * replay.c - run the fuzz target (fuzz_reader.c) over files without
 * libFuzzer: each argument is a file or a directory of files; with none,
 * the corpus this tree was built with (WEFT_FUZZ_CORPUS). "make check"
 * runs it, so every crasher once found stays a test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int one(const char *file)
{
	FILE *f = fopen(file, "rb");
	uint8_t *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(file);
		return 1;
	}
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(file);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int walk(const char *p, int *count)
{
	struct stat st;
	struct dirent **names;
	int n, bad = 0;

	if (stat(p, &st) != 0) {
		perror(p);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return one(p);
	}
	if ((n = scandir(p, &names, NULL, alphasort)) < 0) {
		perror(p);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", p, names[i]->d_name);
			bad |= walk(sub, count);
		}
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0, count = 0;

	if (argc < 2)
		bad = walk(WEFT_FUZZ_CORPUS, &count);
	for (int i = 1; i < argc; i++)
		bad |= walk(argv[i], &count);
	printf("replay: %d inputs\n", count);
	return bad || count == 0;
}
