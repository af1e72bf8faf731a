/* capture.c — reading back a captured stream (see capture.h). */
#include "capture.h"

size_t iris_test_read_back(FILE *f, char *buf, size_t size) {
  size_t n;
  fflush(f);
  rewind(f);
  n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  return n;
}
