/* pg_tool.c - see pg_tool.h. */
#include "pg/pg_tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"

#define STDERR_MAX 16384

char *pg_tool_find(const char *name, const char *given, const char *env_var)
{
    const char *env = env_var ? getenv(env_var) : NULL;
    char path[PATH_MAX];
    int v;
    if (given && *given)
        return strdup(given);
    if (env && *env)
        return strdup(env);
    for (v = 30; v >= 10; v--) {
        snprintf(path, sizeof path, "/usr/lib/postgresql/%d/bin/%s", v, name);
        if (access(path, X_OK) == 0)
            return strdup(path);
    }
    return strdup(name);
}

co_status pg_tool_workdir_new(char **dir_out, co_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char buf[PATH_MAX];
    *dir_out = NULL;
    snprintf(buf, sizeof buf, "%s/cutover-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(buf))
        return co_error_set(err, CO_ERR_IO, "cannot create a work directory: %s",
                            strerror(errno));
    if (!(*dir_out = strdup(buf))) {
        rmdir(buf);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    return CO_OK;
}

static void wipe_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0) {
        char zeros[512] = {0};
        for (off_t done = 0; done < st.st_size; done += (off_t)sizeof zeros)
            if (write(fd, zeros, sizeof zeros) < 0)
                break;
        fsync(fd);
    }
    close(fd);
}

void pg_tool_workdir_remove(char *dir)
{
    DIR *d;
    struct dirent *e;
    char path[PATH_MAX];
    if (!dir)
        return;
    if ((d = opendir(dir))) {
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (!strcmp(e->d_name, "pgpass"))
                wipe_file(path);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

/* Appends s to f with ':' and '\' escaped (passfile field). */
static void put_field(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == ':' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

co_status pg_tool_passfile_write(const char *path, const pg_conn_spec *const *specs, size_t n,
                                 co_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f;
    bool ok;
    if (fd < 0)
        return co_error_set(err, CO_ERR_IO, "cannot create the passfile: %s", strerror(errno));
    if (!(f = fdopen(fd, "w"))) {
        close(fd);
        return co_error_set(err, CO_ERR_IO, "cannot write the passfile: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
        const pg_conn_spec *s = specs[i];
        if (!s || !s->password)
            continue;
        /* a socket directory is matched as "localhost" by libpq: any host */
        put_field(f, s->host && *s->host && *s->host != '/' ? s->host : "*");
        fprintf(f, ":%d:", s->port > 0 ? s->port : 5432);
        put_field(f, s->dbname ? s->dbname : "*");
        fputc(':', f);
        put_field(f, s->user ? s->user : "*");
        fputc(':', f);
        put_field(f, s->password);
        fputc('\n', f);
    }
    ok = !ferror(f);
    ok = (fclose(f) == 0) && ok;
    return ok ? CO_OK
              : co_error_set(err, CO_ERR_IO, "cannot write the passfile: %s", strerror(errno));
}

char *pg_tool_join(const char *a, char sep, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%c%s", a, sep, b);
    return p;
}

/* "NAME=value" (malloc'd). */
static char *env_pair(const char *name, const char *value)
{
    return pg_tool_join(name, '=', value);
}

void pg_tool_vec_free(char **v)
{
    size_t i;
    if (!v)
        return;
    for (i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

char **pg_tool_env_new(const pg_conn_spec *src, const char *passfile)
{
    static const char *const keep[] = {"PATH", "HOME", "TZ"};
    char **env = calloc(24, sizeof *env);
    char port[16], timeout[16], app[128];
    size_t n = 0, i;
    bool ok = true;
    if (!env)
        return NULL;
    for (i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *v = getenv(keep[i]);
        if (v)
            ok = ok && (env[n++] = env_pair(keep[i], v));
    }
    ok = ok && (env[n++] = env_pair("LC_ALL", "C"));
    ok = ok && (env[n++] = env_pair("PGCLIENTENCODING", "UTF8"));
    if (src->host)
        ok = ok && (env[n++] = env_pair("PGHOST", src->host));
    if (src->port > 0) {
        snprintf(port, sizeof port, "%d", src->port);
        ok = ok && (env[n++] = env_pair("PGPORT", port));
    }
    if (src->dbname)
        ok = ok && (env[n++] = env_pair("PGDATABASE", src->dbname));
    if (src->user)
        ok = ok && (env[n++] = env_pair("PGUSER", src->user));
    if (src->sslmode)
        ok = ok && (env[n++] = env_pair("PGSSLMODE", src->sslmode));
    if (src->sslrootcert && *src->sslrootcert)
        ok = ok && (env[n++] = env_pair("PGSSLROOTCERT", src->sslrootcert));
    snprintf(timeout, sizeof timeout, "%d",
             src->connect_timeout_s > 0 ? src->connect_timeout_s : 10);
    ok = ok && (env[n++] = env_pair("PGCONNECT_TIMEOUT", timeout));
    snprintf(app, sizeof app, "cutover/%s", src->run_id ? src->run_id : "tool");
    ok = ok && (env[n++] = env_pair("PGAPPNAME", app));
    if (passfile)
        ok = ok && (env[n++] = env_pair("PGPASSFILE", passfile));
    if (!ok) {
        pg_tool_vec_free(env);
        return NULL;
    }
    return env;
}

typedef struct grow_buf {
    char *data;
    size_t len, cap, max;
    bool over;
} grow_buf;

static bool buf_append(grow_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->max) {
        b->over = true;
        n = b->max > b->len + 1 ? b->max - b->len - 1 : 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        char *q;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(q = realloc(b->data, cap)))
            return false;
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* Reads the child's stdout (if captured) and stderr until both close or
 * the deadline. A full stderr buffer is drained and dropped. */
static co_status pump(int *out_fdp, int *err_fdp, grow_buf *out, grow_buf *errb,
                      int64_t deadline, const char *prog, co_error *err)
{
    struct pollfd fds[2];
    char chunk[65536];
    int out_fd = *out_fdp, err_fd = *err_fdp;
    while (out_fd >= 0 || err_fd >= 0) {
        int64_t left = deadline - co_clock_mono_ms();
        int nf = 0, r, k;
        if (left <= 0)
            return co_error_set(err, CO_ERR_IO, "%s timed out", prog);
        if (out_fd >= 0)
            fds[nf++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
        if (err_fd >= 0)
            fds[nf++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
        r = poll(fds, (nfds_t)nf, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return co_error_set(err, CO_ERR_IO, "poll: %s", strerror(errno));
        for (k = 0; r > 0 && k < nf; k++) {
            ssize_t got;
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = read(fds[k].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[k].fd);
                if (fds[k].fd == out_fd)
                    out_fd = *out_fdp = -1;
                else
                    err_fd = *err_fdp = -1;
                continue;
            }
            if (!buf_append(fds[k].fd == out_fd ? out : errb, chunk, (size_t)got))
                return co_error_set(err, CO_ERR_NOMEM, "out of memory reading %s", prog);
            if (out->over)
                return co_error_set(err, CO_ERR_TOO_LARGE, "%s output over %zu bytes", prog,
                                    out->max);
        }
    }
    return CO_OK;
}

co_status pg_tool_run(char *const *argv, char *const *envp, int timeout_s, bool capture_out,
                      size_t max_out, pg_tool_result *res, co_error *err)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    pid_t pid = -1;
    grow_buf out = {.max = max_out ? max_out : 1}, errb = {.max = STDERR_MAX};
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int status = 0, spawn_rc;
    co_status rc;

    *res = (pg_tool_result){0};
    if ((capture_out && pipe2(outp, O_CLOEXEC)) || pipe2(errp, O_CLOEXEC)) {
        rc = co_error_set(err, CO_ERR_IO, "pipe: %s", strerror(errno));
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa)) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    fa_init = true;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (capture_out)
        posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    spawn_rc = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, NULL, argv, envp)
                                    : posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
    if (spawn_rc) {
        pid = -1;
        rc = co_error_set(err, CO_ERR_IO, "cannot start %s: %s", argv[0], strerror(spawn_rc));
        goto done;
    }
    if (outp[1] >= 0)
        close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    rc = pump(&outp[0], &errp[0], &out, &errb,
              co_clock_mono_ms() + (int64_t)(timeout_s > 0 ? timeout_s : 1800) * 1000, prog,
              err);
    if (rc != CO_OK)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc != CO_OK)
        goto done;
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (capture_out) {
        res->out = out.data ? out.data : strdup("");
        res->out_len = out.len;
        out.data = NULL;
    }
    res->err_text = errb.data ? errb.data : strdup("");
    errb.data = NULL;
    if ((capture_out && !res->out) || !res->err_text) {
        pg_tool_result_free(res);
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
done:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    free(out.data);
    free(errb.data);
    return rc;
}

void pg_tool_result_free(pg_tool_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err_text);
    *res = (pg_tool_result){0};
}
