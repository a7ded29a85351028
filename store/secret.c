/* secret.c - see secret.h. */
#include "store/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN 16

static co_status read_key(int fd, const char *path, co_secret_key *key, co_error *err)
{
    struct stat stbuf;
    ssize_t n;
    if (fstat(fd, &stbuf) != 0)
        return co_error_set(err, CO_ERR_IO, "cannot stat secret key file %s", path);
    if (stbuf.st_mode & 077)
        return co_error_set(err, CO_ERR_IO,
                            "secret key file %s is readable by group or others "
                            "(mode %03o): chmod 600 it", path,
                            (unsigned)(stbuf.st_mode & 0777));
    n = read(fd, key->key, sizeof key->key);
    if (n != (ssize_t)sizeof key->key || stbuf.st_size != (off_t)sizeof key->key)
        return co_error_set(err, CO_ERR_IO,
                            "secret key file %s must hold exactly %d bytes", path,
                            CO_SECRET_KEY_LEN);
    return CO_OK;
}

co_status co_secret_key_load(const char *path, co_secret_key *key, co_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    co_status rc;

    if (fd >= 0) {
        rc = read_key(fd, path, key, err);
        close(fd);
        return rc;
    }
    if (errno != ENOENT)
        return co_error_set(err, CO_ERR_IO, "cannot open secret key file %s: %s",
                            path, strerror(errno));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return co_error_set(err, CO_ERR_IO, "cannot create secret key file %s: %s",
                            path, strerror(errno));
    if (RAND_bytes(key->key, sizeof key->key) != 1) {
        close(fd);
        unlink(path);
        return co_error_set(err, CO_ERR_CRYPTO, "RAND_bytes failed");
    }
    if (write(fd, key->key, sizeof key->key) != (ssize_t)sizeof key->key ||
        fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return co_error_set(err, CO_ERR_IO, "cannot write secret key file %s", path);
    }
    close(fd);
    return CO_OK;
}

co_status co_secret_seal(const co_secret_key *key, const char *aad,
                         const void *plain, size_t plain_len, unsigned char **out,
                         size_t *out_len, co_error *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *blob = NULL;
    int len = 0, fin = 0;
    co_status rc = CO_OK;

    if (plain_len > (size_t)1 << 20)
        return co_error_set(err, CO_ERR_INVALID, "secret too large");
    blob = malloc(plain_len + CO_SECRET_OVERHEAD);
    ctx = EVP_CIPHER_CTX_new();
    if (!blob || !ctx) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto fail;
    }
    blob[0] = CO_SECRET_BLOB_VERSION;
    if (RAND_bytes(blob + 1, NONCE_LEN) != 1 ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->key, blob + 1) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad,
                          (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(ctx, blob + 1 + NONCE_LEN, &len, plain,
                          (int)plain_len) != 1 ||
        EVP_EncryptFinal_ex(ctx, blob + 1 + NONCE_LEN + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
                            blob + 1 + NONCE_LEN + plain_len) != 1) {
        rc = co_error_set(err, CO_ERR_CRYPTO, "AES-256-GCM encryption failed");
        goto fail;
    }
    *out = blob;
    *out_len = plain_len + CO_SECRET_OVERHEAD;
    blob = NULL;
fail:
    EVP_CIPHER_CTX_free(ctx);
    free(blob);
    return rc;
}

co_status co_secret_open(const co_secret_key *key, const char *aad,
                         const unsigned char *blob, size_t blob_len, char **out,
                         size_t *out_len, co_error *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    char *plain = NULL;
    size_t plain_len;
    int len = 0, fin = 0;
    co_status rc = CO_OK;

    if (blob_len < CO_SECRET_OVERHEAD ||
        (blob[0] != 1 && blob[0] != CO_SECRET_BLOB_VERSION))
        return co_error_set(err, CO_ERR_CRYPTO, "sealed secret is malformed");
    plain_len = blob_len - CO_SECRET_OVERHEAD;
    plain = malloc(plain_len + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!plain || !ctx) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->key, blob + 1) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad,
                          (int)strlen(aad)) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, blob + 1 + NONCE_LEN,
                          (int)plain_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                            (void *)(blob + 1 + NONCE_LEN + plain_len)) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &fin) != 1) {
        rc = co_error_set(err, CO_ERR_CRYPTO,
                          "sealed secret failed authentication (tampered or wrong key)");
        goto fail;
    }
    plain[plain_len] = '\0';
    *out = plain;
    *out_len = plain_len;
    plain = NULL;
fail:
    EVP_CIPHER_CTX_free(ctx);
    if (plain)
        OPENSSL_cleanse(plain, plain_len + 1);
    free(plain);
    return rc;
}

int co_secret_blob_version(const unsigned char *blob, size_t blob_len)
{
    return blob && blob_len >= CO_SECRET_OVERHEAD ? blob[0] : 0;
}

co_status co_secret_endpoint_aad(const char *id, const json_t *doc, char **out,
                                 co_error *err)
{
    static const char *const bound[] = {"host", "port", "database", "username",
                                        "sslmode", "sslrootcert"};
    json_t *a = json_array();
    json_array_append_new(a, json_string(id));
    for (size_t i = 0; i < sizeof bound / sizeof bound[0]; i++) {
        json_t *v = json_object_get(doc, bound[i]);
        json_array_append(a, v ? v : json_null());
    }
    *out = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(a);
    if (!*out)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    return CO_OK;
}

co_status co_secret_open_endpoint(const co_secret_key *key, const char *id,
                                  const json_t *doc, const unsigned char *blob,
                                  size_t blob_len, char **out, size_t *out_len,
                                  co_error *err)
{
    char *aad = NULL;
    co_status rc = co_secret_endpoint_aad(id, doc, &aad, err);
    if (rc == CO_OK)
        rc = co_secret_open(key, aad, blob, blob_len, out, out_len, err);
    free(aad);
    return rc;
}

void co_secret_derive(const co_secret_key *key, const char *label,
                      unsigned char out[32])
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), key->key, CO_SECRET_KEY_LEN,
              (const unsigned char *)label, strlen(label), out, &len))
        OPENSSL_cleanse(out, 32);
}
