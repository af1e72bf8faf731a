/*
 * capture.h — reading back what code under test wrote to a stream (a tmpfile() given to the
 * logger or the metrics writer), for tests that look for text in it.
 */
#ifndef IRIS_TEST_CAPTURE_H
#define IRIS_TEST_CAPTURE_H

#include <stddef.h>
#include <stdio.h>

/* Flush f and read it from its start into buf (size bytes, size > 0), NUL-terminated; what
 * does not fit in size - 1 bytes is left out. Returns the number of bytes read. */
size_t iris_test_read_back(FILE *f, char *buf, size_t size);

#endif /* IRIS_TEST_CAPTURE_H */
