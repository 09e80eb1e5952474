#ifndef JINGLEKIT_COPENSSL_SHIM_H
#define JINGLEKIT_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>

/* Macros and variadic functions Swift cannot import. */
static inline long jk_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op) { return (long)SSL_CTX_set_options(ctx, op); }
static inline uint64_t jk_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t jk_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
static inline uint64_t jk_SSL_OP_NO_QUERY_MTU(void) { return SSL_OP_NO_QUERY_MTU; }
static inline int jk_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) { return (int)SSL_CTX_set_min_proto_version(ctx, v); }
static inline int jk_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
static inline long jk_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }
static inline long jk_DTLSv1_get_timeout(SSL *ssl, struct timeval *tv) { return DTLSv1_get_timeout(ssl, tv); }
static inline long jk_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }
static inline long jk_BIO_set_mem_eof_return(BIO *b, long v) { return BIO_set_mem_eof_return(b, v); }
static inline size_t jk_BIO_ctrl_pending(BIO *b) { return BIO_ctrl_pending(b); }
static inline void jk_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline EVP_PKEY *jk_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
static inline int jk_SSL_CTX_set_tlsext_use_srtp(SSL_CTX *ctx, const char *profiles) { return SSL_CTX_set_tlsext_use_srtp(ctx, profiles); }
static inline long jk_SSL_get_peer_cert_chain_count(SSL *ssl) {
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    return chain ? sk_X509_num(chain) : 0;
}
static inline int jk_ERR_GET_REASON(unsigned long e) { return ERR_GET_REASON(e); }
/* TLS/DTLS adapter (Sources/TLS). */
static inline uint64_t jk_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline unsigned long jk_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
static inline void jk_BIO_set_retry_read(BIO *b) { BIO_set_retry_read(b); }
static inline void jk_BIO_clear_retry_flags(BIO *b) { BIO_clear_retry_flags(b); }
static inline long jk_SSL_CTX_set_num_tickets(SSL_CTX *ctx, size_t n) { return (long)SSL_CTX_set_num_tickets(ctx, n); }
static inline long jk_SSL_set_max_proto_version(SSL *ssl, int v) { return (long)SSL_set_max_proto_version(ssl, v); }
static inline long jk_DTLS_set_link_mtu(SSL *ssl, long mtu) { return (long)DTLS_set_link_mtu(ssl, mtu); }
#endif
