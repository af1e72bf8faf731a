/*
 * plugin_loader.h — find, load and check vendor plugins (plugin-api/iris_plugin.h).
 *
 * Layer: core; used by the sender (through dispatch) and the plugin harness. Plugins are
 * shared objects in one directory (the layer's /opt/lib/iris-plugins by default). Each is
 * opened with libltdl and checked before anything of it runs beyond its entry point: the
 * entry symbol, the ABI major, the struct sizes, the required operations, and duplicates.
 * A plugin that fails a check is skipped — logged and listed in the rejections with the
 * file name, what is wrong and how to fix it — and never takes the host down.
 */
#ifndef IRIS_PLUGIN_LOADER_H
#define IRIS_PLUGIN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "iris_plugin.h"

#define IRIS_PLUGIN_DEFAULT_DIR "/opt/lib/iris-plugins"

struct iris_plugins; /* opaque registry of loaded plugins */

/* An empty registry. Caller frees with iris_plugins_free (which unloads everything). */
int iris_plugins_new(struct iris_plugins **out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_plugins_free(struct iris_plugins *p);

/*
 * Load every "*.so" of dir (sorted by name). Rejected plugins are recorded (see
 * iris_plugins_rejection) and do not fail the call. Returns IRIS_ENOTFOUND if dir cannot be
 * read, IRIS_ENOMEM.
 */
int iris_plugins_load_dir(struct iris_plugins *p, const char *dir,
                          struct iris_err *err) IRIS_WARN_UNUSED;

/* Load one file; IRIS_EPLUGIN with the reason if it is rejected (also recorded). */
int iris_plugins_load_file(struct iris_plugins *p, const char *path,
                           struct iris_err *err) IRIS_WARN_UNUSED;

/* Loaded plugins, in load order. Borrowed; valid until iris_plugins_free. */
size_t iris_plugins_count(const struct iris_plugins *p);
const struct iris_plugin_descriptor *iris_plugins_get(const struct iris_plugins *p, size_t i);
const char *iris_plugins_path(const struct iris_plugins *p, size_t i);
/* How long loading and checking plugin i took, in microseconds. */
int64_t iris_plugins_load_us(const struct iris_plugins *p, size_t i);

/* Rejections: "<file>: <what is wrong> (<fix>)". Borrowed. */
size_t iris_plugins_rejections(const struct iris_plugins *p);
const char *iris_plugins_rejection(const struct iris_plugins *p, size_t i);

/* The ops of plugin `name` for `mode`, or NULL. */
const struct iris_plugin_mode_ops *iris_plugins_find(const struct iris_plugins *p,
                                                     const char *name, const char *mode);

#endif /* IRIS_PLUGIN_LOADER_H */
