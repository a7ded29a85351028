/* cli.h - cutoverctl, the command-line client of cutoverd.
 *
 * DESIGN
 * One process per command: parse the options (main.c), call the REST API
 * with libcurl (client.c), print a table on a terminal or JSON otherwise,
 * and turn the outcome into an exit status (CTL_EXIT_*). `apply` (apply.c)
 * makes a project match a declarative JSON file by name; `run start --wait`
 * and `run watch` (follow.c) follow a run's Server-Sent Events stream,
 * reconnecting with Last-Event-ID, and approve the gates they were told to.
 * Only core/ is used from the daemon's sources.
 *
 * THREADS: single-threaded.
 */
#ifndef CUTOVER_CLI_CLI_H
#define CUTOVER_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses, documented in README.md and `cutoverctl --help`. */
enum {
    CTL_EXIT_OK = 0,           /* succeeded, or the command worked */
    CTL_EXIT_FAILED = 1,       /* the run failed, or the API refused the request */
    CTL_EXIT_CANCELLED = 2,    /* the run was cancelled */
    CTL_EXIT_TIMEOUT = 3,      /* --timeout reached */
    CTL_EXIT_GATE = 4,         /* stopped at a gate not in --approve */
    CTL_EXIT_USAGE = 64,       /* EX_USAGE */
    CTL_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: the service cannot be reached */
    CTL_EXIT_NOPERM = 77,      /* EX_NOPERM: 401 or 403 */
};

typedef struct ctl {
    const char *url;           /* base URL without trailing slash */
    char *token;               /* bearer token or NULL (owned) */
    bool json;                 /* -o json */
    bool tty;                  /* stdout is a terminal */
    char etag[80];             /* ETag of the last answer ("" if none) */
} ctl;

/* Calls method path (relative to ctl->url) with an optional JSON body
 * (borrowed) and extra header lines (NULL-terminated, may be NULL). On a
 * 2xx/304 answer returns CTL_EXIT_OK with *status and *out (the parsed JSON
 * body, new reference, NULL when empty or not JSON; out may be NULL). On an
 * error answer prints the problem's detail to stderr and returns
 * CTL_EXIT_NOPERM (401/403) or CTL_EXIT_FAILED; CTL_EXIT_UNAVAILABLE when
 * the service cannot be reached (after 3 tries, 1 s apart). When raw is not
 * NULL the body is returned there instead (malloc'd, NUL-terminated). */
int ctl_call(ctl *c, const char *method, const char *path, const json_t *body,
             const char *const *headers, long *status, json_t **out, char **raw);

/* Percent-encodes s for a URL query or path segment into a malloc'd string. */
char *ctl_escape(const char *s);

/* One Server-Sent Event: id, type, parsed data (borrowed during the call). */
typedef struct ctl_event {
    int64_t id;
    const char *type;
    json_t *data;
} ctl_event;

/* Handles one event; returns < 0 to keep following, or an exit status to
 * stop with. */
typedef int (*ctl_event_fn)(void *user, const ctl_event *ev);

/* Follows GET path as an SSE stream from event id *last (updated as events
 * arrive) until fn returns an exit status, the server ends the stream
 * (returns -1), deadline_ms passes (CTL_EXIT_TIMEOUT; 0 = none, epoch ms)
 * or the service cannot be reached (CTL_EXIT_UNAVAILABLE / NOPERM). */
int ctl_stream(ctl *c, const char *path, int64_t *last, int64_t deadline_ms,
               ctl_event_fn fn, void *user);

/* Milliseconds since the epoch. */
int64_t ctl_now_ms(void);

/* Prints doc as one JSON line on stdout. */
void ctl_print_json(const json_t *doc);

/* `cutoverctl apply -f FILE` (apply.c): argv after "apply". */
int ctl_apply(ctl *c, int argc, char **argv);

/* Follows run_id (follow.c). approve: NULL-terminated step ids to approve
 * when they wait; with gate_exit a gate not in it ends with CTL_EXIT_GATE
 * (run start --wait), otherwise it is shown and followed (run watch).
 * Returns the exit status for the run's outcome. */
int ctl_follow(ctl *c, const char *run_id, char **approve, bool gate_exit,
               int64_t deadline_ms);

/* Prints a run (table on a terminal: state and steps). */
void ctl_print_run(ctl *c, const json_t *run);

#endif
