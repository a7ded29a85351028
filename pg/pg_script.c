/* pg_script.c - see pg_script.h. */
#include "pg/pg_script.h"

#include <pg_query.h>
#include <stdlib.h>
#include <string.h>

size_t pg_script_char_to_byte(const char *text, size_t len, long charpos)
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

void pg_script_line_col(const char *text, size_t off, int *line, int *col)
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

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* First byte at or after i that is not whitespace or part of a comment (the
 * parser's statement locations include what precedes a statement). */
static size_t skip_blank(const char *s, size_t i, size_t end)
{
    for (;;) {
        while (i < end && is_space(s[i]))
            i++;
        if (i + 1 < end && s[i] == '-' && s[i + 1] == '-') {
            while (i < end && s[i] != '\n')
                i++;
        } else if (i + 1 < end && s[i] == '/' && s[i + 1] == '*') {
            int depth = 1;
            for (i += 2; i < end && depth > 0; i++) {
                if (i + 1 < end && s[i] == '/' && s[i + 1] == '*') {
                    depth++;
                    i++;
                } else if (i + 1 < end && s[i] == '*' && s[i + 1] == '/') {
                    depth--;
                    i++;
                }
            }
        } else {
            return i;
        }
    }
}

static bool push(pg_stmt_list *l, size_t *cap, const char *script, size_t off, size_t len,
                 bool meta)
{
    int line, col;
    if (l->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        pg_stmt *p = realloc(l->items, ncap * sizeof *p);
        if (!p)
            return false;
        l->items = p;
        *cap = ncap;
    }
    pg_script_line_col(script, off, &line, &col);
    l->items[l->count++] = (pg_stmt){.offset = off, .len = len, .line = line, .meta = meta};
    return true;
}

static int by_offset(const void *a, const void *b)
{
    const pg_stmt *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* If the parser stopped on a line that starts with a backslash, blanks that
 * line in work and records it as a meta-command. */
static bool take_meta(char *work, size_t len, const char *script, int cursorpos,
                      pg_stmt_list *out, size_t *cap, bool *nomem)
{
    size_t at = pg_script_char_to_byte(work, len, cursorpos), ls = at, f, le;
    while (ls > 0 && work[ls - 1] != '\n')
        ls--;
    for (f = ls; f < len && (work[f] == ' ' || work[f] == '\t'); f++)
        ;
    if (f >= len || work[f] != '\\' || f > at)
        return false;
    for (le = f; le < len && work[le] != '\n'; le++)
        ;
    while (le > f && (work[le - 1] == '\r' || work[le - 1] == ' ' || work[le - 1] == '\t'))
        le--;
    if (!push(out, cap, script, f, le - f, true)) {
        *nomem = true;
        return false;
    }
    memset(work + f, ' ', le - f);
    return true;
}

co_status pg_script_split(const char *script, size_t len, pg_stmt_list *out, co_error *err)
{
    char *work = strndup(script, len);
    PgQuerySplitResult r;
    size_t cap = 0;
    bool nomem = false;
    co_status rc = CO_OK;

    memset(out, 0, sizeof *out);
    if (!work)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    for (;;) {
        r = pg_query_split_with_parser(work);
        if (!r.error)
            break;
        if (take_meta(work, len, script, r.error->cursorpos, out, &cap, &nomem)) {
            pg_query_free_split_result(r);
            continue;
        }
        pg_query_free_split_result(r);
        if (nomem)
            break;
        out->fallback = true;
        r = pg_query_split_with_scanner(work);
        if (r.error) {
            int line, col;
            pg_script_line_col(script, pg_script_char_to_byte(script, len, r.error->cursorpos),
                               &line, &col);
            rc = co_error_set(err, CO_ERR_UNPROCESSABLE, "line %d: %s", line,
                              r.error->message ? r.error->message : "cannot scan the script");
            pg_query_free_split_result(r);
            goto done;
        }
        break;
    }
    if (nomem) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < r.n_stmts; i++) {
        size_t s = (size_t)r.stmts[i]->stmt_location, e;
        e = r.stmts[i]->stmt_len ? s + (size_t)r.stmts[i]->stmt_len : len;
        if (e > len)
            e = len;
        s = skip_blank(work, s, e);
        while (e > s && is_space(work[e - 1]))
            e--;
        if (s < e && !push(out, &cap, script, s, e - s, false)) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            break;
        }
    }
    pg_query_free_split_result(r);
    if (rc == CO_OK && out->count > 1)
        qsort(out->items, out->count, sizeof *out->items, by_offset);
done:
    free(work);
    if (rc != CO_OK)
        pg_stmt_list_free(out);
    return rc;
}

void pg_stmt_list_free(pg_stmt_list *list)
{
    if (!list)
        return;
    free(list->items);
    memset(list, 0, sizeof *list);
}
