/*
 * testdata: load a JSON file from tests/unit/data (DPMP_TEST_DATA is set
 * by tests/CMakeLists.txt), shared by the suites that use test vectors.
 */
#ifndef DPMP_TESTDATA_H
#define DPMP_TESTDATA_H

#include <stdio.h>

#include <jansson.h>

static inline json_t *
testdata_load(const char *name)
{
	json_error_t	 jerr;
	json_t		*v;
	char		 path[4096];

	snprintf(path, sizeof(path), "%s/%s", DPMP_TEST_DATA, name);
	if ((v = json_load_file(path, 0, &jerr)) == NULL)
		fprintf(stderr, "%s: %s\n", path, jerr.text);
	return v;
}

#endif
