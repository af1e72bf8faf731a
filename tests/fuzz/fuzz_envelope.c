/* fuzz_envelope.c — the queue envelope parser (core/iris/contract.c) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct iris_envelope env;
  struct iris_err err = {0};
  if (iris_envelope_parse((const char *)data, size, &env, &err) == IRIS_OK) {
    if (env.kind == IRIS_ENV_BATCH && (env.nmessage_ids < 1 || !env.message_ids))
      __builtin_trap();
    iris_envelope_cleanup(&env);
  } else {
    fuzz_check_err(&err);
  }
  return 0;
}
