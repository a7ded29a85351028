/* creds_server.h - the loopback fake of the ECS container endpoint and
 * EC2 IMDSv2 that tests/unit/test_creds.c runs the credential chain
 * against (aws/creds.h).
 *
 * One libmicrohttpd server on 127.0.0.1 (port chosen by the kernel) answers
 * both: ECS at ECS_PATH and FULL_PATH (checking the Authorization token, if
 * one is required), IMDSv2 at /latest/... (a session token on PUT
 * /latest/api/token, required on every GET). Its one instance, srv, is
 * shared by the test thread and the server's polling thread: every field
 * below the daemon's is guarded by srv.lock.
 */
#ifndef CUTOVER_TESTS_CREDS_SERVER_H
#define CUTOVER_TESTS_CREDS_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ECS_PATH "/ecs/creds"
#define FULL_PATH "/full/creds"

struct MHD_Daemon;

typedef struct fake {
    pthread_mutex_t lock;
    struct MHD_Daemon *daemon;
    unsigned port;
    /* what it answers (set by the test, read by the server thread) */
    char akid[64], secret[64], token[64];
    int64_t expiration_ms;   /* 0: no Expiration field */
    char ecs_auth[64];       /* required Authorization, "" for none */
    int ecs_status;          /* 0: 200 with credentials */
    int imds_status;         /* 0: 200 with credentials (the role document) */
    bool imds_no_role;
    int imds_delay_ms;       /* delay before answering the credentials GET */
    /* what it saw */
    int ecs_requests, ecs_unauthorized;
    int imds_puts, imds_role_gets, imds_creds_gets, imds_bad_token;
} fake;

/* The fake; set up by fake_start(). */
extern fake srv;

/* Starts srv on 127.0.0.1 and an ephemeral port (srv.port); false if it
 * could not. */
bool fake_start(void);

/* Stops the server started by fake_start(). */
void fake_stop(void);

/* Sets the credentials the fake hands out next (exp: Expiration in epoch
 * ms, 0 for none). */
void fake_creds(const char *akid, const char *secret, const char *token, int64_t exp);

/* Sets / reads one int field of srv under srv.lock. */
void fake_set(int *field, int value);
int fake_get(const int *field);

#endif
