/* test_secret.c - store/secret: key file handling and AES-256-GCM sealing. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/secret.h"
#include "tests/unit/tap.h"

#define NONCE_OFF 1
#define CT_OFF (1 + 12)

static char dir[] = "/tmp/cutover-test-secret-XXXXXX";

static void path_in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static bool write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    bool ok;
    if (fd < 0)
        return false;
    ok = write(fd, data, len) == (ssize_t)len;
    /* the umask may have narrowed the mode; set it exactly */
    ok = fchmod(fd, mode) == 0 && ok;
    close(fd);
    return ok;
}

static bool read_file(const char *path, unsigned char *buf, size_t size, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return false;
    n = read(fd, buf, size);
    close(fd);
    if (n < 0)
        return false;
    *len = (size_t)n;
    return true;
}

static void test_key_create_and_load(co_secret_key *key)
{
    char path[256];
    struct stat st;
    unsigned char disk[64];
    size_t len = 0;
    co_secret_key again;
    co_error err;

    path_in_dir(path, sizeof path, "master.key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, key, &err) == CO_OK, "creates an absent key file: %s",
          err.message);
    CHECK(stat(path, &st) == 0, "key file exists after the first load");
    CHECK((st.st_mode & 0777) == 0600, "key file mode is 0600 (is %03o)",
          (unsigned)(st.st_mode & 0777));
    CHECK(st.st_size == CO_SECRET_KEY_LEN, "key file holds %d bytes (%lld)",
          CO_SECRET_KEY_LEN, (long long)st.st_size);
    CHECK(read_file(path, disk, sizeof disk, &len) && len == CO_SECRET_KEY_LEN &&
              memcmp(disk, key->key, CO_SECRET_KEY_LEN) == 0,
          "key file content is the returned key");

    memset(&again, 0, sizeof again);
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &again, &err) == CO_OK, "loads the existing key: %s",
          err.message);
    CHECK(memcmp(again.key, key->key, CO_SECRET_KEY_LEN) == 0,
          "the loaded key is identical to the created one");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
          "loading does not change the mode");

    {
        /* a second, independent key file gets a different key */
        char other[256];
        co_secret_key k2;
        path_in_dir(other, sizeof other, "other.key");
        co_error_clear(&err);
        CHECK(co_secret_key_load(other, &k2, &err) == CO_OK, "creates a second key");
        CHECK(memcmp(k2.key, key->key, CO_SECRET_KEY_LEN) != 0,
              "two fresh keys differ");
        unlink(other);
    }
}

static void test_key_rejects(void)
{
    char path[256];
    unsigned char bytes[CO_SECRET_KEY_LEN + 1];
    co_secret_key k;
    co_error err;

    memset(bytes, 0x5a, sizeof bytes);

    path_in_dir(path, sizeof path, "open.key");
    CHECK(write_file(path, bytes, CO_SECRET_KEY_LEN, 0644), "wrote a 0644 key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_ERR_IO, "a 0644 key file is rejected");
    CHECK(err.status == CO_ERR_IO && strstr(err.message, "chmod 600") != NULL,
          "the message says what to do: %s", err.message);
    unlink(path);

    path_in_dir(path, sizeof path, "group.key");
    CHECK(write_file(path, bytes, CO_SECRET_KEY_LEN, 0640), "wrote a 0640 key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_ERR_IO,
          "a group-readable key file is rejected");
    unlink(path);

    path_in_dir(path, sizeof path, "short.key");
    CHECK(write_file(path, bytes, CO_SECRET_KEY_LEN - 1, 0600), "wrote a short key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_ERR_IO, "a 31-byte key is rejected");
    unlink(path);

    path_in_dir(path, sizeof path, "long.key");
    CHECK(write_file(path, bytes, CO_SECRET_KEY_LEN + 1, 0600), "wrote a long key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_ERR_IO, "a 33-byte key is rejected");
    unlink(path);

    path_in_dir(path, sizeof path, "empty.key");
    CHECK(write_file(path, bytes, 0, 0600), "wrote an empty key file");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_ERR_IO, "an empty key file is rejected");
    unlink(path);

    path_in_dir(path, sizeof path, "exact.key");
    CHECK(write_file(path, bytes, CO_SECRET_KEY_LEN, 0400), "wrote a 0400 key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_OK, "a 0400 key file is accepted");
    CHECK(memcmp(k.key, bytes, CO_SECRET_KEY_LEN) == 0, "its content is loaded");
    unlink(path);

    path_in_dir(path, sizeof path, "no/such/dir.key");
    co_error_clear(&err);
    CHECK(co_secret_key_load(path, &k, &err) == CO_ERR_IO,
          "a key in a missing directory cannot be created");
}

/* Seals plain, opens it again and compares. */
static void round_trip(const co_secret_key *key, const char *aad, const void *plain,
                       size_t len, const char *what)
{
    unsigned char *blob = NULL;
    size_t blob_len = 0, out_len = 99;
    char *out = NULL;
    co_error err;

    co_error_clear(&err);
    CHECK(co_secret_seal(key, aad, plain, len, &blob, &blob_len, &err) == CO_OK,
          "seal %s: %s", what, err.message);
    if (!blob)
        return;
    CHECK(blob_len == len + CO_SECRET_OVERHEAD, "blob of %s is %zu + %d bytes", what,
          len, CO_SECRET_OVERHEAD);
    CHECK(blob[0] == CO_SECRET_BLOB_VERSION, "blob of %s starts with version 2", what);
    CHECK(len < 8 || memmem(blob, blob_len, plain, len) == NULL,
          "blob of %s does not contain the plaintext", what);
    co_error_clear(&err);
    CHECK(co_secret_open(key, aad, blob, blob_len, &out, &out_len, &err) == CO_OK,
          "open %s: %s", what, err.message);
    if (out) {
        CHECK(out_len == len, "opened %s has length %zu (%zu)", what, len, out_len);
        CHECK(memcmp(out, plain, len) == 0, "opened %s equals the plaintext", what);
        CHECK(out[len] == '\0', "opened %s is NUL-terminated", what);
    }
    free(out);
    free(blob);
}

static void test_round_trips(const co_secret_key *key)
{
    unsigned char binary[256];
    char big[5000];

    for (size_t i = 0; i < sizeof binary; i++)
        binary[i] = (unsigned char)(255 - i);
    memset(big, 'p', sizeof big);

    round_trip(key, "ept_abcdefghijklmnopqrstuvwx", "hunter2", 7, "a password");
    round_trip(key, "ept_abcdefghijklmnopqrstuvwx", "", 0, "the empty string");
    round_trip(key, "ept_abcdefghijklmnopqrstuvwx", binary, sizeof binary,
               "256 binary bytes with NULs");
    round_trip(key, "ept_abcdefghijklmnopqrstuvwx", "a", 1, "one byte");
    round_trip(key, "ept_abcdefghijklmnopqrstuvwx", big, sizeof big, "5000 bytes");
    round_trip(key, "", "pw", 2, "an empty aad");
    round_trip(key, "ept_ü", "pässwörd", strlen("pässwörd"), "UTF-8");

    {
        /* two seals of the same plaintext use different nonces */
        unsigned char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        co_error err;
        co_error_clear(&err);
        CHECK(co_secret_seal(key, "x", "same", 4, &a, &alen, &err) == CO_OK &&
                  co_secret_seal(key, "x", "same", 4, &b, &blen, &err) == CO_OK,
              "sealed twice");
        CHECK(a && b && alen == blen && memcmp(a + NONCE_OFF, b + NONCE_OFF, 12) != 0,
              "nonces differ between seals");
        CHECK(a && b && memcmp(a, b, alen) != 0, "the blobs differ between seals");
        free(a);
        free(b);
    }
    {
        unsigned char *blob = NULL;
        size_t blob_len = 0;
        co_error err;
        static char huge[(1 << 20) + 1];
        co_error_clear(&err);
        CHECK(co_secret_seal(key, "x", huge, sizeof huge, &blob, &blob_len, &err) !=
                  CO_OK,
              "a secret over 1 MiB is refused");
        CHECK(blob == NULL, "no blob for a refused secret");
    }
}

/* Expects co_secret_open to fail with CO_ERR_CRYPTO and no output. */
static void expect_fail(const co_secret_key *key, const char *aad,
                        const unsigned char *blob, size_t len, const char *what)
{
    char *out = NULL;
    size_t out_len = 0;
    co_error err;
    co_error_clear(&err);
    CHECK(co_secret_open(key, aad, blob, len, &out, &out_len, &err) == CO_ERR_CRYPTO,
          "%s is refused with CO_ERR_CRYPTO (got %s)", what, co_status_str(err.status));
    CHECK(err.status == CO_ERR_CRYPTO && err.message[0], "%s records an error", what);
    CHECK(out == NULL, "%s yields no plaintext", what);
    free(out);
}

static void test_tamper(const co_secret_key *key)
{
    const char *aad = "ept_abcdefghijklmnopqrstuvwx";
    const char *plain = "correct horse battery staple";
    size_t plen = strlen(plain);
    unsigned char *blob = NULL, *copy;
    size_t len = 0;
    co_error err;
    struct {
        const char *what;
        size_t off;
    } positions[6];

    co_error_clear(&err);
    if (!CHECK(co_secret_seal(key, aad, plain, plen, &blob, &len, &err) == CO_OK,
               "sealed the tamper fixture"))
        return;
    copy = malloc(len);
    if (!CHECK(copy != NULL, "allocated a copy"))
        goto done;

    positions[0].what = "a flipped version byte";
    positions[0].off = 0;
    positions[1].what = "a flipped first nonce byte";
    positions[1].off = NONCE_OFF;
    positions[2].what = "a flipped last nonce byte";
    positions[2].off = NONCE_OFF + 11;
    positions[3].what = "a flipped ciphertext byte";
    positions[3].off = CT_OFF + plen / 2;
    positions[4].what = "a flipped first tag byte";
    positions[4].off = CT_OFF + plen;
    positions[5].what = "a flipped last tag byte";
    positions[5].off = len - 1;
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        memcpy(copy, blob, len);
        copy[positions[i].off] ^= 0x01;
        expect_fail(key, aad, copy, len, positions[i].what);
    }
    /* every single byte position, one bit each */
    {
        size_t accepted = 0;
        for (size_t off = 0; off < len; off++) {
            char *out = NULL;
            size_t out_len;
            memcpy(copy, blob, len);
            copy[off] ^= 0x80;
            co_error_clear(&err);
            if (co_secret_open(key, aad, copy, len, &out, &out_len, &err) != CO_ERR_CRYPTO)
                accepted++;
            free(out);
        }
        CHECK(accepted == 0, "a flip at any of %zu positions is detected (%zu missed)",
              len, accepted);
    }

    expect_fail(key, "ept_bbbbbbbbbbbbbbbbbbbbbbbbbb", blob, len, "another aad");
    expect_fail(key, "", blob, len, "an empty aad");
    expect_fail(key, "ept_abcdefghijklmnopqrstuvw", blob, len, "a truncated aad");
    {
        co_secret_key wrong = *key;
        wrong.key[0] ^= 0x01;
        expect_fail(&wrong, aad, blob, len, "a wrong key");
    }
    expect_fail(key, aad, blob, len - 1, "a blob without its last byte");
    expect_fail(key, aad, blob, CO_SECRET_OVERHEAD, "a blob cut to the overhead size");
    expect_fail(key, aad, blob, CO_SECRET_OVERHEAD - 1, "a blob shorter than the overhead");
    expect_fail(key, aad, blob, 1, "a one-byte blob");
    expect_fail(key, aad, blob, 0, "an empty blob");
    {
        /* the extended blob keeps the old tag in the ciphertext position */
        unsigned char *longer = malloc(len + 1);
        if (CHECK(longer != NULL, "allocated a longer blob")) {
            memcpy(longer, blob, len);
            longer[len] = 0;
            expect_fail(key, aad, longer, len + 1, "a blob with an extra byte");
            free(longer);
        }
    }
    /* the untampered blob still opens */
    {
        char *out = NULL;
        size_t out_len = 0;
        co_error_clear(&err);
        CHECK(co_secret_open(key, aad, blob, len, &out, &out_len, &err) == CO_OK &&
                  out && strcmp(out, plain) == 0,
              "the original blob still opens");
        free(out);
    }
    free(copy);
done:
    free(blob);
}

static void test_first_error_wins(const co_secret_key *key)
{
    unsigned char bad[CO_SECRET_OVERHEAD] = {0};
    char *out = NULL;
    size_t out_len;
    co_error err;
    co_error_clear(&err);
    co_error_set(&err, CO_ERR_NOT_FOUND, "earlier");
    CHECK(co_secret_open(key, "x", bad, sizeof bad, &out, &out_len, &err) != CO_OK,
          "opening a bad blob fails with an earlier error recorded");
    CHECK(err.status == CO_ERR_NOT_FOUND, "the earlier status is kept");
    CHECK(strcmp(err.message, "earlier") == 0, "the earlier message is kept");
    free(out);
}

int main(void)
{
    co_secret_key key;
    char path[256];

    if (!CHECK(mkdtemp(dir) != NULL, "created a temporary directory"))
        return tap_done();
    test_key_create_and_load(&key);
    test_key_rejects();
    test_round_trips(&key);
    test_tamper(&key);
    test_first_error_wins(&key);

    path_in_dir(path, sizeof path, "master.key");
    unlink(path);
    CHECK(rmdir(dir) == 0, "temporary directory is empty at the end");
    return tap_done();
}
