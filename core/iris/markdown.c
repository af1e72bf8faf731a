/* markdown.c — Markdown to HTML as Python-Markdown renders it, on libcmark (see markdown.h). */
#include "markdown.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Put before a line that must not start an HTML block (a private-use character, U+E000, that
 * the AST pass removes again). Bodies that contain it already are left as they are. */
#define SENTINEL "\xEE\x80\x80"
#define SENTINEL_LEN 3
/* Stands for the `&` of a character reference (U+E001), so that cmark keeps `&copy;` as
 * written, as Python-Markdown does, instead of decoding it. */
#define AMP "\xEE\x80\x81"
#define AMP_LEN 3

/* Python-Markdown's block-level tags (markdown.Markdown().block_level_elements, 3.x). */
static const char *const block_tags[] =
    {"address",  "article",    "aside",  "blockquote", "details",  "div",    "dl",
     "fieldset", "figcaption", "figure", "footer",     "form",     "h1",     "h2",
     "h3",       "h4",         "h5",     "h6",         "header",   "hgroup", "hr",
     "main",     "menu",       "nav",    "ol",         "p",        "pre",    "section",
     "table",    "ul",         "canvas", "colgroup",   "dd",       "body",   "dt",
     "group",    "html",       "iframe", "li",         "legend",   "math",   "map",
     "noscript", "output",     "object", "option",     "progress", "script", "style",
     "summary",  "tbody",      "td",     "textarea",   "tfoot",    "th",     "thead",
     "tr",       "video",      "center", NULL};

static int is_space(char c) { return c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Is the tag name at s (n bytes, any case) one of Python-Markdown's block-level tags? */
static int block_tag(const char *s, size_t n) {
  size_t i, k;
  for (i = 0; block_tags[i]; i++) {
    if (strlen(block_tags[i]) != n)
      continue;
    for (k = 0; k < n; k++)
      if ((s[k] | 0x20) != block_tags[i][k])
        break;
    if (k == n)
      return 1;
  }
  return 0;
}

/* Leading spaces of a line (a tab counts as four). */
static size_t indent(const char *s, size_t n) {
  size_t i, w = 0;
  for (i = 0; i < n && is_space(s[i]); i++)
    w += s[i] == '\t' ? 4 : 1;
  return w;
}

/* The offset of a list marker's last character on the line (after up to three spaces), or
 * -1: `*`, `-`, `+` or digits and `.` or `)`, followed by a space or tab. *paren is set for
 * `1)`, which Python-Markdown does not know as a list. */
static long list_marker(const char *s, size_t n, int *paren) {
  size_t i = 0;
  *paren = 0;
  while (i < n && i < 3 && s[i] == ' ')
    i++;
  if (i < n && (s[i] == '*' || s[i] == '-' || s[i] == '+'))
    return i + 1 < n && is_space(s[i + 1]) ? (long)i : -1;
  if (i >= n || !is_digit(s[i]))
    return -1;
  while (i < n && is_digit(s[i]))
    i++;
  if (i + 1 < n && (s[i] == '.' || s[i] == ')') && is_space(s[i + 1])) {
    *paren = s[i] == ')';
    return (long)i;
  }
  return -1;
}

/* A thematic break (three or more of one of * - _ with spaces) or an ATX heading. */
static int heading_or_rule(const char *s, size_t n) {
  size_t i = 0, marks = 0;
  char c;
  while (i < n && is_space(s[i]))
    i++;
  if (i < n && s[i] == '#')
    return 1;
  if (i >= n || (s[i] != '*' && s[i] != '-' && s[i] != '_'))
    return 0;
  c = s[i];
  for (; i < n; i++) {
    if (s[i] == c)
      marks++;
    else if (!is_space(s[i]))
      return 0;
  }
  return marks >= 3;
}

/* Does line[t] (of n bytes) open an inline tag, `<name` or `</name` with a name that is not
 * one of Python-Markdown's block-level tags? Such a line is text to Python-Markdown. */
static int inline_tag(const char *line, size_t n, size_t t) {
  size_t s, e;
  if (t >= n || line[t] != '<')
    return 0;
  s = t + 1 + (t + 1 < n && line[t + 1] == '/');
  for (e = s; e < n && is_alnum(line[e]); e++)
    ;
  return e > s && !block_tag(line + s, e - s);
}

/* Append the line with SENTINEL put before offset t (and its newline, if any). */
static int mark_at(struct iris_buf *out, const char *line, size_t n, size_t t, int nl) {
  int rc = iris_buf_append(out, line, t);
  if (rc == IRIS_OK)
    rc = iris_buf_append(out, SENTINEL, SENTINEL_LEN);
  return rc ? rc : iris_buf_append(out, line + t, n - t + (nl ? 1 : 0));
}

/*
 * Rewrite the body line by line where Python-Markdown reads it differently from CommonMark:
 * a list marker right after a paragraph line is text (escaped here), `1)` is never a list
 * marker, `#Title` is a heading, and a line starting with an inline tag is not an HTML block
 * (marked with SENTINEL). out receives the rewritten text.
 */
static int rewrite(const char *text, size_t len, int sentinel_ok, struct iris_buf *out) {
  size_t pos = 0;
  int prev_para = 0, in_list = 0, blank_before = 1, rc = IRIS_OK;
  char bullet = 0; /* the first item's bullet of the current list (0: ordered) */
  while (pos < len && rc == IRIS_OK) {
    const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - line) : len - pos, ind = indent(line, n), lead = 0;
    int blank = 1, paren = 0;
    long marker;
    size_t i;
    for (i = 0; i < n; i++)
      if (!is_space(line[i]) && line[i] != '\r')
        blank = 0;
    while (lead < n && is_space(line[lead]))
      lead++;
    marker = blank ? -1 : list_marker(line, n, &paren);
    if (marker < 0 && !blank && in_list && ind >= 4 && sentinel_ok) {
      /* A nested item that opens with an inline tag: mark it like a top-level one. */
      long m = list_marker(line + lead, n - lead, &paren);
      if (m >= 0) {
        size_t t = lead + (size_t)m + 1;
        while (t < n && is_space(line[t]))
          t++;
        if (inline_tag(line, n, t)) {
          rc = mark_at(out, line, n, t, nl != NULL);
          pos += n + (nl ? 1 : 0);
          blank_before = 0;
          continue;
        }
      }
    }
    if (blank) {
      prev_para = 0;
    } else if (marker >= 0 && (paren || (prev_para && !in_list))) {
      /* Text, not a list: escape the marker's last character. */
      if (paren && in_list && blank_before && ind < 4)
        in_list = 0; /* a paragraph after the list ends it */
      rc = iris_buf_append(out, line, (size_t)marker);
      if (rc == IRIS_OK)
        rc = iris_buf_appendc(out, '\\');
      if (rc == IRIS_OK)
        rc = iris_buf_append(out, line + marker, n - (size_t)marker);
      if (rc == IRIS_OK && nl)
        rc = iris_buf_appendc(out, '\n');
      pos += n + (nl ? 1 : 0);
      prev_para = !in_list;
      blank_before = 0;
      continue;
    } else if (marker >= 0) {
      char c = line[marker];
      int is_bullet = c == '*' || c == '-' || c == '+';
      if (!in_list)
        bullet = is_bullet ? c : 0;
      in_list = 1;
      prev_para = 0;
      if (sentinel_ok) {
        /* An item that opens with an inline tag: text, as for a line (see below). */
        size_t t = (size_t)marker + 1;
        while (t < n && is_space(line[t]))
          t++;
        if (inline_tag(line, n, t)) {
          if (is_bullet && bullet && c != bullet && ind < 4)
            c = bullet;
          rc = iris_buf_append(out, line, (size_t)marker);
          if (rc == IRIS_OK)
            rc = iris_buf_appendc(out, c);
          if (rc == IRIS_OK)
            rc = iris_buf_append(out, line + marker + 1, t - (size_t)marker - 1);
          if (rc == IRIS_OK)
            rc = iris_buf_append(out, SENTINEL, SENTINEL_LEN);
          if (rc == IRIS_OK)
            rc = iris_buf_append(out, line + t, n - t + (nl ? 1 : 0));
          pos += n + (nl ? 1 : 0);
          blank_before = 0;
          continue;
        }
      }
      if (is_bullet && bullet && c != bullet && ind < 4) {
        /* Python-Markdown: *, - and + items make one list (CommonMark starts a new one). */
        rc = iris_buf_append(out, line, (size_t)marker);
        if (rc == IRIS_OK)
          rc = iris_buf_appendc(out, bullet);
        if (rc == IRIS_OK)
          rc = iris_buf_append(out, line + marker + 1, n - (size_t)marker - 1 + (nl ? 1 : 0));
        pos += n + (nl ? 1 : 0);
        blank_before = 0;
        continue;
      }
    } else if (ind >= 4) {
      /* code, or the continuation of a list item or paragraph: no change of state */
    } else {
      if (in_list && blank_before)
        in_list = 0;
      if (!in_list) {
        size_t h = lead;
        while (h < n && h - lead < 6 && line[h] == '#')
          h++;
        if (h > lead && h < n && line[h] != '#' && !is_space(line[h]) && line[h] != '\r') {
          /* `#Title`: Python-Markdown's heading needs no space after the hashes. */
          rc = iris_buf_append(out, line, h);
          if (rc == IRIS_OK)
            rc = iris_buf_appendc(out, ' ');
          if (rc == IRIS_OK)
            rc = iris_buf_append(out, line + h, n - h);
          if (rc == IRIS_OK && nl)
            rc = iris_buf_appendc(out, '\n');
          pos += n + (nl ? 1 : 0);
          prev_para = 0;
          blank_before = 0;
          continue;
        }
        if (sentinel_ok && line[lead] == '>' && lead < 4) {
          /* A quote whose text opens with an inline tag: text, as for a plain line. */
          size_t t = lead + 1;
          if (t < n && line[t] == ' ')
            t++;
          if (inline_tag(line, n, t)) {
            rc = mark_at(out, line, n, t, nl != NULL);
            pos += n + (nl ? 1 : 0);
            prev_para = 1;
            blank_before = 0;
            continue;
          }
        }
        if (sentinel_ok && !prev_para && inline_tag(line, n, lead))
          rc = iris_buf_append(out, SENTINEL, SENTINEL_LEN);
        prev_para = !heading_or_rule(line, n);
      }
    }
    blank_before = blank;
    if (rc == IRIS_OK)
      rc = iris_buf_append(out, line, n + (nl ? 1 : 0));
    pos += n + (nl ? 1 : 0);
  }
  return rc;
}

/* `mailto:` + address as decimal character references, as Python-Markdown writes autolinks
 * to e-mail addresses. Returns a malloc'd (iris_alloc) string or NULL. */
static char *obfuscated_mail(const char *address) {
  struct iris_buf b;
  const char *p;
  int rc;
  iris_buf_init(&b, 0);
  rc = iris_buf_appends(&b, "<a href=\"");
  for (p = "mailto:"; *p && rc == IRIS_OK; p++)
    rc = iris_buf_appendf(&b, "&#%d;", (unsigned char)*p);
  for (p = address; *p && rc == IRIS_OK; p++)
    rc = iris_buf_appendf(&b, "&#%d;", (unsigned char)*p);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&b, "\">");
  for (p = address; *p && rc == IRIS_OK; p++)
    rc = iris_buf_appendf(&b, "&#%d;", (unsigned char)*p);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&b, "</a>");
  if (rc) {
    iris_buf_cleanup(&b);
    return NULL;
  }
  return iris_buf_take(&b, NULL);
}

/* The length of a character reference at s (`&name;`, `&#123;`, `&#x1F;`), or 0. */
static size_t entity_len(const char *s, size_t n) {
  size_t i = 1;
  if (n < 3 || s[0] != '&')
    return 0;
  if (s[1] == '#') {
    int hex = n > 2 && (s[2] == 'x' || s[2] == 'X');
    size_t start;
    i = hex ? 3 : 2;
    start = i;
    while (i < n && (is_digit(s[i]) || (hex && ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f'))))
      i++;
    return i > start && i < n && s[i] == ';' ? i + 1 : 0;
  }
  if (!((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z'))
    return 0;
  while (i < n && is_alnum(s[i]))
    i++;
  return i < n && s[i] == ';' ? i + 1 : 0;
}

/* Copy text to out with the `&` of every character reference replaced by AMP. */
static int mark_entities(const char *text, size_t len, struct iris_buf *out) {
  size_t i, from = 0;
  int rc = IRIS_OK;
  for (i = 0; i < len && rc == IRIS_OK; i++) {
    if (text[i] != '&' || !entity_len(text + i, len - i))
      continue;
    rc = iris_buf_append(out, text + from, i - from);
    if (rc == IRIS_OK)
      rc = iris_buf_append(out, AMP, AMP_LEN);
    from = i + 1;
  }
  return rc ? rc : iris_buf_append(out, text + from, len - from);
}

/* A copy of s (cmark-owned or not) with every AMP back to `&` and SENTINEL removed, in
 * iris_alloc'd memory, or NULL. */
static char *unmark(const char *s) {
  struct iris_buf b;
  int rc = IRIS_OK;
  iris_buf_init(&b, 0);
  while (*s && rc == IRIS_OK) {
    if (strncmp(s, AMP, AMP_LEN) == 0) {
      rc = iris_buf_appendc(&b, '&');
      s += AMP_LEN;
    } else if (strncmp(s, SENTINEL, SENTINEL_LEN) == 0) {
      s += SENTINEL_LEN;
    } else {
      rc = iris_buf_appendc(&b, *s++);
    }
  }
  if (rc == IRIS_OK && !b.ptr)
    rc = iris_buf_appends(&b, "");
  if (rc) {
    iris_buf_cleanup(&b);
    return NULL;
  }
  return iris_buf_take(&b, NULL);
}

/* Set a string property of node (via set) to its unmarked value. */
static int unmark_prop(cmark_node *node, const char *value,
                       int (*set)(cmark_node *, const char *)) {
  char *clean;
  int ok;
  if (!value || (!strstr(value, AMP) && !strstr(value, SENTINEL)))
    return IRIS_OK;
  clean = unmark(value);
  ok = clean && set(node, clean);
  iris_free(clean);
  return ok ? IRIS_OK : IRIS_ENOMEM;
}

/* Insert a node of `type` with `literal` (n bytes) before `at`. */
static int insert_literal(cmark_node *at, cmark_node_type type, const char *literal, size_t n) {
  char *copy = iris_strndup(literal, n);
  cmark_node *node = copy ? cmark_node_new(type) : NULL;
  int ok = node && cmark_node_set_literal(node, copy) && cmark_node_insert_before(at, node);
  if (!ok)
    cmark_node_free(node);
  iris_free(copy);
  return ok ? IRIS_OK : IRIS_ENOMEM;
}

/* A text node holding marked references: its text pieces, and each reference as raw HTML
 * (kept as written), are inserted before it; the caller frees the node. */
static int split_text(cmark_node *node) {
  const char *p = cmark_node_get_literal(node);
  struct iris_buf text;
  int rc = IRIS_OK;
  iris_buf_init(&text, 0);
  while (p && *p && rc == IRIS_OK) {
    if (strncmp(p, AMP, AMP_LEN) == 0) {
      /* mark_entities replaced only the '&': the rest of the reference follows, up to ';' */
      const char *semi = strchr(p + AMP_LEN, ';');
      size_t k = semi ? (size_t)(semi - (p + AMP_LEN)) + 1 : strlen(p + AMP_LEN);
      if (text.len)
        rc = insert_literal(node, CMARK_NODE_TEXT, text.ptr, text.len);
      iris_buf_reset(&text);
      if (rc == IRIS_OK)
        rc = iris_buf_appendc(&text, '&');
      if (rc == IRIS_OK)
        rc = iris_buf_append(&text, p + AMP_LEN, k);
      if (rc == IRIS_OK)
        rc = insert_literal(node, CMARK_NODE_HTML_INLINE, text.ptr, text.len);
      iris_buf_reset(&text);
      p += AMP_LEN + k;
    } else if (strncmp(p, SENTINEL, SENTINEL_LEN) == 0) {
      p += SENTINEL_LEN;
    } else if (*p == '"') {
      /* Python-Markdown writes quotes in text as they are; cmark would write &quot;. */
      if (text.len)
        rc = insert_literal(node, CMARK_NODE_TEXT, text.ptr, text.len);
      iris_buf_reset(&text);
      if (rc == IRIS_OK)
        rc = insert_literal(node, CMARK_NODE_HTML_INLINE, "\"", 1);
      p++;
    } else {
      rc = iris_buf_appendc(&text, *p++);
    }
  }
  if (rc == IRIS_OK && text.len)
    rc = insert_literal(node, CMARK_NODE_TEXT, text.ptr, text.len);
  iris_buf_cleanup(&text);
  return rc;
}

/* A code span or an indented code block written as Python-Markdown writes it (only &, < and >
 * escaped; cmark also escapes quotes), as raw HTML in its place. Fenced blocks with an info
 * string are left to cmark (Python-Markdown has no fenced code). */
static int code_as_html(cmark_node *node) {
  int block = cmark_node_get_type(node) == CMARK_NODE_CODE_BLOCK;
  const char *lit = cmark_node_get_literal(node), *p,
             *info = block ? cmark_node_get_fence_info(node) : NULL;
  cmark_node *raw;
  struct iris_buf b;
  int rc;
  if (!lit || !strchr(lit, '"') || (info && *info))
    return IRIS_OK;
  iris_buf_init(&b, 0);
  rc = iris_buf_appends(&b, block ? "<pre><code>" : "<code>");
  for (p = lit; *p && rc == IRIS_OK; p++)
    rc = *p == '&'   ? iris_buf_appends(&b, "&amp;")
         : *p == '<' ? iris_buf_appends(&b, "&lt;")
         : *p == '>' ? iris_buf_appends(&b, "&gt;")
                     : iris_buf_appendc(&b, *p);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&b, block ? "</code></pre>\n" : "</code>");
  raw = rc == IRIS_OK ? cmark_node_new(block ? CMARK_NODE_HTML_BLOCK : CMARK_NODE_HTML_INLINE)
                      : NULL;
  if (rc == IRIS_OK &&
      (!raw || !cmark_node_set_literal(raw, b.ptr) || !cmark_node_replace(node, raw))) {
    cmark_node_free(raw);
    rc = IRIS_ENOMEM;
  }
  iris_buf_cleanup(&b);
  if (rc == IRIS_OK)
    cmark_node_free(node); /* replaced: no longer in the tree */
  return rc;
}

/* Python-Markdown's readings of the parsed document. Nodes are changed after the walk (cmark's
 * iterator must not see its tree change). Returns IRIS_OK or IRIS_ENOMEM. */
static int adjust(cmark_node *doc) {
  cmark_iter *it = cmark_iter_new(doc);
  cmark_event_type ev;
  cmark_node **todo = NULL;
  size_t ntodo = 0, cap = 0, i;
  int rc = IRIS_OK;
  if (!it)
    return IRIS_ENOMEM;
  while (rc == IRIS_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
    cmark_node *node = cmark_iter_get_node(it);
    if (ev != CMARK_EVENT_ENTER)
      continue;
    if (ntodo == cap) {
      cmark_node **grown = iris_realloc(todo, (cap ? cap * 2 : 64) * sizeof *todo);
      if (!grown) {
        rc = IRIS_ENOMEM;
        break;
      }
      todo = grown;
      cap = cap ? cap * 2 : 64;
    }
    todo[ntodo++] = node;
  }
  cmark_iter_free(it);
  for (i = 0; i < ntodo && rc == IRIS_OK; i++) {
    cmark_node *node = todo[i], *next = node ? cmark_node_next(node) : NULL;
    if (!node)
      continue;
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_LIST:
      if (cmark_node_get_list_type(node) == CMARK_ORDERED_LIST)
        cmark_node_set_list_start(node, 1);
      break;
    case CMARK_NODE_TEXT: {
      const char *lit = cmark_node_get_literal(node);
      if (lit && (strstr(lit, AMP) || strstr(lit, SENTINEL) || strchr(lit, '"'))) {
        rc = split_text(node);
        cmark_node_free(node); /* unlinks it */
        todo[i] = NULL;
      }
      break;
    }
    case CMARK_NODE_HTML_BLOCK:
      rc = unmark_prop(node, cmark_node_get_literal(node), cmark_node_set_literal);
      /* Python-Markdown keeps a blank line between a raw HTML block and the next block. */
      if (rc == IRIS_OK && next &&
          cmark_node_get_start_line(next) > cmark_node_get_end_line(node) + 1) {
        struct iris_buf b;
        iris_buf_init(&b, 0);
        rc = iris_buf_appends(&b, cmark_node_get_literal(node));
        if (rc == IRIS_OK)
          rc = iris_buf_appendc(&b, '\n');
        if (rc == IRIS_OK && !cmark_node_set_literal(node, b.ptr))
          rc = IRIS_ENOMEM;
        iris_buf_cleanup(&b);
      }
      break;
    case CMARK_NODE_CODE:
    case CMARK_NODE_CODE_BLOCK:
      rc = unmark_prop(node, cmark_node_get_literal(node), cmark_node_set_literal);
      if (rc == IRIS_OK)
        rc = code_as_html(node); /* may free node */
      todo[i] = NULL;
      break;
    case CMARK_NODE_HTML_INLINE:
      rc = unmark_prop(node, cmark_node_get_literal(node), cmark_node_set_literal);
      break;
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE: {
      const char *url, *text;
      cmark_node *child = cmark_node_first_child(node);
      rc = unmark_prop(node, cmark_node_get_url(node), cmark_node_set_url);
      if (rc == IRIS_OK)
        rc = unmark_prop(node, cmark_node_get_title(node), cmark_node_set_title);
      url = cmark_node_get_url(node);
      text = child && cmark_node_get_type(child) == CMARK_NODE_TEXT && !cmark_node_next(child)
                 ? cmark_node_get_literal(child)
                 : NULL;
      if (rc == IRIS_OK && cmark_node_get_type(node) == CMARK_NODE_LINK && url && text &&
          strncmp(url, "mailto:", 7) == 0 && strcmp(url + 7, text) == 0) {
        char *html = obfuscated_mail(text);
        rc = html ? insert_literal(node, CMARK_NODE_HTML_INLINE, html, strlen(html)) : IRIS_ENOMEM;
        iris_free(html);
        /* The link and its text go; their later entries in todo must not be touched. */
        if (i + 1 < ntodo && todo[i + 1] == child)
          todo[i + 1] = NULL;
        cmark_node_free(node);
        todo[i] = NULL;
      }
      break;
    }
    default: break;
    }
  }
  iris_free(todo);
  return rc;
}

/* Is the line ending at html[end] (exclusive) one after which a nested list stays on a new
 * line: empty, or ending in a block-level tag (`</p>`, `<li>`, `<hr />`…)? */
static int ends_block(const char *html, size_t start, size_t end) {
  size_t lt, t, e;
  if (end == start || html[end - 1] != '>')
    return end == start;
  for (lt = end - 1; lt > start && html[lt] != '<'; lt--)
    ;
  if (html[lt] != '<')
    return 0;
  t = lt + 1 + (html[lt + 1] == '/');
  for (e = t; e < end && is_alnum(html[e]); e++)
    ;
  return e > t && block_tag(html + t, e - t);
}

/* Copy cmark's HTML to out, putting a nested list right after its item's text (Python-
 * Markdown writes `<li>a<ul>`) and dropping the final newline. */
static int finish(const char *html, struct iris_buf *out) {
  size_t n = strlen(html), line = 0, i;
  int rc = IRIS_OK;
  while (n && html[n - 1] == '\n')
    n--;
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    if (html[i] == '\n' &&
        (strncmp(html + i + 1, "<ul>\n", 5) == 0 || strncmp(html + i + 1, "<ol>\n", 5) == 0) &&
        !ends_block(html, line, i)) {
      line = i + 1;
      continue;
    }
    rc = iris_buf_appendc(out, html[i]);
    if (html[i] == '\n')
      line = i + 1;
  }
  return rc;
}

int iris_markdown_to_html(const char *text, size_t len, struct iris_buf *out,
                          struct iris_err *err) {
  struct iris_buf marked, pre;
  cmark_node *doc = NULL;
  char *html = NULL;
  int sentinel_ok = 1, rc;
  size_t i;
  for (i = 0; i + SENTINEL_LEN <= len && sentinel_ok; i++)
    sentinel_ok = memcmp(text + i, SENTINEL, SENTINEL_LEN) != 0;
  for (i = 0; i + AMP_LEN <= len && sentinel_ok; i++)
    sentinel_ok = memcmp(text + i, AMP, AMP_LEN) != 0;
  iris_buf_init(&marked, 0);
  iris_buf_init(&pre, 0);
  /* Bodies holding the private-use marks already are converted without the bridges. */
  rc = sentinel_ok ? mark_entities(text, len, &marked) : iris_buf_append(&marked, text, len);
  if (rc == IRIS_OK && marked.len)
    rc = rewrite(marked.ptr, marked.len, sentinel_ok, &pre);
  if (rc == IRIS_OK) {
    doc = cmark_parse_document(pre.ptr ? pre.ptr : "", pre.len, CMARK_OPT_UNSAFE);
    rc = doc ? adjust(doc) : IRIS_ENOMEM;
  }
  if (rc == IRIS_OK) {
    html = cmark_render_html(doc, CMARK_OPT_UNSAFE);
    rc = html ? finish(html, out) : IRIS_ENOMEM;
  }
  free(html); /* cmark allocates with its own malloc. checksrc:allow */
  cmark_node_free(doc);
  iris_buf_cleanup(&pre);
  iris_buf_cleanup(&marked);
  return rc ? iris_err_set(err, rc, "markdown: %s",
                           rc == IRIS_ENOMEM ? "out of memory" : "the HTML is too long")
            : IRIS_OK;
}
