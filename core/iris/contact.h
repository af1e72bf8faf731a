/*
 * contact.h — who is paged how: Iris's mode and destination resolution (set_target_contact).
 *
 * Layer: core, above db; used by sender.c. The mode of an incident message is the first of:
 * the user's override for (application, priority), the application's default for the
 * priority, the user's own preference for the priority, Iris's default for the priority —
 * kept only if the application allows that mode and the target is a user. Its destination is
 * the user's contact for that mode; `drop` needs none. Anything else (no allowed mode, no
 * contact) is Iris's fallback to the user's email address.
 */
#ifndef IRIS_CONTACT_H
#define IRIS_CONTACT_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct iris_contact {
  char mode[64];
  int64_t mode_id;
  char *destination; /* owned (iris_contact_cleanup); NULL for drop */
};
void iris_contact_cleanup(struct iris_contact *c);

/* The priority chain. IRIS_ENOTFOUND (with the reason) when Iris would fall back to email;
 * out->mode then names the mode the chain chose that had no contact ("" when none was
 * allowed), and nothing else in out is set. */
int iris_contact_by_priority(struct iris_db *db, const char *target, const char *application,
                             int64_t priority_id, struct iris_contact *out,
                             struct iris_err *err) IRIS_WARN_UNUSED;

/* The priority chain of several users read in one query (a sender reads those of a batch's
 * messages ahead); caller owns, iris_contacts_free. Strings in `want` are borrowed (copied). */
struct iris_contact_want {
  const char *target, *application;
  int64_t priority_id;
};
struct iris_contacts;
int iris_contacts_read(struct iris_db *db, const struct iris_contact_want *want, size_t n,
                       struct iris_contacts **out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_contacts_free(struct iris_contacts *c);
/* iris_contact_by_priority, answered from `ahead` (may be NULL) when it was read there. */
int iris_contact_by_priority_ahead(const struct iris_contacts *ahead, struct iris_db *db,
                                   const char *target, const char *application,
                                   int64_t priority_id, struct iris_contact *out,
                                   struct iris_err *err) IRIS_WARN_UNUSED;

/* The contact of the user target `target` (a team or list of that name is not it) for one
 * mode (explicit-mode messages, and the email fallback).
 * IRIS_ENOTFOUND when the target has none (or more than one). */
int iris_contact_for_mode(struct iris_db *db, const char *target, const char *mode,
                          struct iris_contact *out, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_CONTACT_H */
