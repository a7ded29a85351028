/* pg_sqlsplit.c - see pg_sqlsplit.h. */
#include "pg/pg_sqlsplit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* If s[i] starts a dollar-quote delimiter ($$ or $tag$), returns its length. */
static size_t dollar_tag(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && s[j] == '$')
        return 2;
    if (j >= len || !ident_start((unsigned char)s[j]))
        return 0;
    while (j < len && ident_char((unsigned char)s[j]) && s[j] != '$')
        j++;
    if (j < len && s[j] == '$')
        return j - i + 1;
    return 0;
}

static bool push(pg_stmt_list *out, size_t *cap, size_t off, size_t end, int line,
                 bool meta)
{
    pg_stmt *p;
    if (end <= off)
        return true;
    if (out->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        p = realloc(out->items, ncap * sizeof *p);
        if (!p)
            return false;
        out->items = p;
        *cap = ncap;
    }
    p = &out->items[out->count++];
    p->offset = off;
    p->len = end - off;
    p->line = line;
    p->meta = meta;
    return true;
}

co_status pg_sqlsplit(const char *s, size_t len, pg_stmt_list *out, co_error *err)
{
    size_t i = 0, cap = 0, start = 0;
    int line = 1, start_line = 1;
    bool in_stmt = false;
    int paren = 0, begin_depth = 0, idents = 0;

    memset(out, 0, sizeof *out);
    while (i < len) {
        unsigned char c = (unsigned char)s[i];

        /* whitespace and comments */
        if (c == '\n') {
            line++;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (c == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n')
                i++;
            continue;
        }
        if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < len && depth > 0) {
                if (s[i] == '\n')
                    line++;
                if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
            continue;
        }
        if (!in_stmt) {
            if (c == '\\') { /* psql meta-command: to the end of the line */
                size_t e = i;
                while (e < len && s[e] != '\n')
                    e++;
                if (!push(out, &cap, i, e, line, true))
                    goto nomem;
                i = e;
                continue;
            }
            if (c == ';') { /* empty statement */
                i++;
                continue;
            }
            in_stmt = true;
            start = i;
            start_line = line;
            paren = begin_depth = idents = 0;
        }
        if (c == ';' && paren == 0 && begin_depth == 0) {
            if (!push(out, &cap, start, i, start_line, false))
                goto nomem;
            in_stmt = false;
            i++;
            continue;
        }
        if (c == '(') {
            paren++;
            i++;
        } else if (c == ')') {
            if (paren > 0)
                paren--;
            i++;
        } else if (c == '\'') {
            /* E'..' when the previous token is a lone E/e */
            bool esc = i > start && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                       (i - 1 == start || !ident_char((unsigned char)s[i - 2]));
            i++;
            while (i < len) {
                if (s[i] == '\n')
                    line++;
                if (esc && s[i] == '\\' && i + 1 < len) {
                    if (s[i + 1] == '\n')
                        line++;
                    i += 2;
                    continue;
                }
                if (s[i] == '\'') {
                    if (i + 1 < len && s[i + 1] == '\'') {
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
        } else if (c == '"') {
            i++;
            while (i < len) {
                if (s[i] == '\n')
                    line++;
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
        } else if (c == '$' && dollar_tag(s, len, i)) {
            size_t tl = dollar_tag(s, len, i);
            const char *tag = s + i;
            i += tl;
            while (i < len) {
                if (s[i] == '$' && i + tl <= len && !memcmp(s + i, tag, tl)) {
                    i += tl;
                    break;
                }
                if (s[i] == '\n')
                    line++;
                i++;
            }
        } else if (ident_start(c)) {
            size_t b = i;
            while (i < len && ident_char((unsigned char)s[i]))
                i++;
            idents++;
            if ((i - b == 5 && !strncasecmp(s + b, "begin", 5)) ||
                (i - b == 4 && !strncasecmp(s + b, "case", 4))) {
                if (idents > 1)
                    begin_depth++;
            } else if (i - b == 3 && !strncasecmp(s + b, "end", 3)) {
                if (begin_depth > 0)
                    begin_depth--;
            }
        } else if (c >= '0' && c <= '9') {
            while (i < len && (ident_char((unsigned char)s[i]) || s[i] == '.'))
                i++;
        } else {
            i++;
        }
    }
    if (in_stmt) {
        size_t e = len;
        /* trim trailing whitespace of an unterminated last statement */
        while (e > start && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' ||
                             s[e - 1] == '\r'))
            e--;
        if (!push(out, &cap, start, e, start_line, false))
            goto nomem;
    }
    return CO_OK;
nomem:
    pg_stmt_list_free(out);
    return co_error_set(err, CO_ERR_NOMEM, "out of memory splitting SQL");
}

void pg_stmt_list_free(pg_stmt_list *list)
{
    if (!list)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

size_t pg_sqlsplit_char_to_byte(const char *text, size_t len, long charpos)
{
    size_t i = 0;
    long n = 1;
    while (i < len && n < charpos) {
        i++;
        while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
        n++;
    }
    return i;
}

void pg_sqlsplit_line_col(const char *text, size_t off, int *line, int *col)
{
    size_t i;
    int l = 1, c = 1;
    for (i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}
