/* fuzz_aws_error.c — AWS JSON-protocol error bodies and the x-amzn-query-error header
 * (iris__aws_parse_error in core/clients/aws.c). The first line of the input is the header
 * (when the first byte is odd), the rest the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char code[64], msg[256];
  char *header = NULL;
  const char *body = (const char *)data;
  size_t len = size;
  if (size && (data[0] & 1)) {
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - data) : size;
    header = malloc(hl + 1);
    if (!header)
      return 0;
    memcpy(header, data, hl);
    header[hl] = '\0';
    body = nl ? (const char *)nl + 1 : "";
    len = nl ? size - hl - 1 : 0;
  }
  iris__aws_parse_error(body, len, header, code, sizeof code, msg, sizeof msg);
  if (strnlen(code, sizeof code) == sizeof code || strnlen(msg, sizeof msg) == sizeof msg)
    __builtin_trap();
  (void)iris__aws_classify(500, code);
  free(header);
  return 0;
}
