/*
 * sender_address.h — the From address an application sends email as
 * (application_custom_sender_address), as Iris's SMTP vendor chose it.
 *
 * Layer: iris, above db; used by the sender for every email. The whole table (a handful of
 * rows) is read at most once a minute per process, so a page costs no extra round trip.
 */
#ifndef IRIS_SENDER_ADDRESS_H
#define IRIS_SENDER_ADDRESS_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct iris_sender_addresses; /* opaque cache */

/* *out owned by the caller (iris_sender_addresses_free). ttl_ms <= 0: 60000. */
int iris_sender_addresses_new(int64_t ttl_ms, struct iris_sender_addresses **out,
                              struct iris_err *err) IRIS_WARN_UNUSED;
void iris_sender_addresses_free(struct iris_sender_addresses *a);

/* The address `application` sends `mode` from, or NULL (use the vendor's own). The string
 * is borrowed until the next call. A failed refresh keeps the previous table and is
 * returned (the caller may send with the vendor's address). */
int iris_sender_address(struct iris_sender_addresses *a, struct iris_db *db,
                        const char *application, const char *mode, const char **out,
                        struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_SENDER_ADDRESS_H */
