/* creds_server.c - the loopback fake of the ECS and IMDSv2 credentials
 * endpoints; see creds_server.h.
 */
#include "tests/unit/creds_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IMDS_TOKEN "imds-session-t0k3n"
#define ROLE "cutover-role"

fake srv;

/* Formats an Expiration the way ECS and IMDS do: "2026-11-23T12:08:52Z". */
static void format_expiration(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Fills body with the credentials document; called with srv.lock held. */
static void creds_document(char *body, size_t size, bool imds)
{
    char exp[40] = "";
    if (srv.expiration_ms)
        format_expiration(srv.expiration_ms, exp, sizeof exp);
    snprintf(body, size,
             "{%s\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\"%s%s%s}",
             imds ? "\"Code\":\"Success\",\"Type\":\"AWS-HMAC\"," : "", srv.akid, srv.secret,
             srv.token, exp[0] ? ",\"Expiration\":\"" : "", exp, exp[0] ? "\"" : "");
}

static bool imds_token_ok(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-aws-ec2-metadata-token");
    if (t && strcmp(t, IMDS_TOKEN) == 0)
        return true;
    srv.imds_bad_token++;
    return false;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload, size_t *upload_size, void **req_cls)
{
    static int marker;
    char body[1024] = "";
    unsigned status = 404;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!*req_cls) {
        *req_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&srv.lock);
    if (strcmp(url, "/latest/api/token") == 0) {
        const char *ttl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                      "X-aws-ec2-metadata-token-ttl-seconds");
        if (strcmp(method, "PUT") != 0) {
            status = 405;
        } else if (!ttl || strtol(ttl, NULL, 10) <= 0) {
            status = 400;
        } else {
            srv.imds_puts++;
            status = 200;
            snprintf(body, sizeof body, "%s", IMDS_TOKEN);
        }
    } else if (strcmp(url, "/latest/meta-data/iam/security-credentials/") == 0) {
        srv.imds_role_gets++;
        if (!imds_token_ok(c))
            status = 401;
        else if (srv.imds_no_role)
            status = 404;
        else {
            status = 200;
            snprintf(body, sizeof body, "%s\n", ROLE);
        }
    } else if (strcmp(url, "/latest/meta-data/iam/security-credentials/" ROLE) == 0) {
        srv.imds_creds_gets++;
        if (srv.imds_delay_ms) {
            int delay = srv.imds_delay_ms;
            pthread_mutex_unlock(&srv.lock);
            usleep((useconds_t)delay * 1000); /* the server stalls, not the client */
            pthread_mutex_lock(&srv.lock);
        }
        if (!imds_token_ok(c))
            status = 401;
        else if (srv.imds_status)
            status = (unsigned)srv.imds_status;
        else {
            status = 200;
            creds_document(body, sizeof body, true);
        }
    } else if (strcmp(url, ECS_PATH) == 0 || strcmp(url, FULL_PATH) == 0) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        srv.ecs_requests++;
        if (srv.ecs_auth[0] && (!auth || strcmp(auth, srv.ecs_auth) != 0)) {
            srv.ecs_unauthorized++;
            status = 401;
        } else if (srv.ecs_status) {
            status = (unsigned)srv.ecs_status;
        } else {
            status = 200;
            creds_document(body, sizeof body, false);
        }
    }
    pthread_mutex_unlock(&srv.lock);

    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

bool fake_start(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    const union MHD_DaemonInfo *info;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&srv.lock, NULL);
    srv.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
                                  NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sin,
                                  MHD_OPTION_END);
    if (!srv.daemon)
        return false;
    info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv.port = info ? info->port : 0;
    return srv.port != 0;
}

void fake_stop(void)
{
    MHD_stop_daemon(srv.daemon);
}

void fake_creds(const char *akid, const char *secret, const char *token, int64_t exp)
{
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.akid, sizeof srv.akid, "%s", akid);
    snprintf(srv.secret, sizeof srv.secret, "%s", secret);
    snprintf(srv.token, sizeof srv.token, "%s", token);
    srv.expiration_ms = exp;
    pthread_mutex_unlock(&srv.lock);
}

void fake_set(int *field, int value)
{
    pthread_mutex_lock(&srv.lock);
    *field = value;
    pthread_mutex_unlock(&srv.lock);
}

int fake_get(const int *field)
{
    int v;
    pthread_mutex_lock(&srv.lock);
    v = *field;
    pthread_mutex_unlock(&srv.lock);
    return v;
}
