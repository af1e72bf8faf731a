/*
 * markdown.h — the HTML part of an email from its Markdown body, as Iris makes it.
 *
 * Layer: iris; uses base and libcmark. Used by render.c.
 *
 * Iris converts the plain body of an email into HTML with Python-Markdown (default settings,
 * no extensions). libcmark parses CommonMark, which differs from Python-Markdown in a few
 * places an alert body meets; this module bridges those so the HTML matches Python-Markdown
 * (tests/integration/test_markdown.py compares the two on generated bodies):
 *   - raw HTML is kept (an operator's `<img src="{{graph_image_url}}">` survives); a line
 *     that starts with an inline tag (img, a, b, span…) is part of a paragraph, as in
 *     Python-Markdown, and only its block-level tags (div, table, p…) start an HTML block;
 *   - a list marker on the line right after a paragraph line continues the paragraph;
 *   - ordered lists always count from 1 (Python-Markdown ignores the first number);
 *   - a nested list follows its item's text on the same line (`<li>a<ul>`);
 *   - e-mail autolinks (`<ops@example.com>`) are written with every character as a
 *     decimal character reference, as Python-Markdown obfuscates them;
 *   - no trailing newline.
 * The differences that remain are listed in docs/sender.md ("Email HTML").
 */
#ifndef IRIS_MARKDOWN_H
#define IRIS_MARKDOWN_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Append the HTML of the Markdown `text` (len bytes, UTF-8) to out. IRIS_ENOMEM, or the
 * buffer's IRIS_ETOOBIG when out's cap is reached. */
int iris_markdown_to_html(const char *text, size_t len, struct iris_buf *out,
                          struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_MARKDOWN_H */
