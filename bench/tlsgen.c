/* tlsgen: peerbench's loadgen over TLS, so logward's TLS listener and rsyslog's are fed by
 * the same generator. N files over N concurrent TLS connections (one connection, thread and
 * client certificate per file, i.e. per origin) to HOST:PORT, as fast as the receiver takes
 * them. The files are newline-terminated syslog lines, sent as they are (RFC 6587 LF framing).
 * Every connection's handshake is done before the clock starts (as loadgen connects first);
 * after its last byte a connection sends close_notify and waits (bounded) until the receiver
 * closes, so "sent" means the receiver has read everything it is going to read.
 *
 * usage: tlsgen [-t timeout_s] [-d certdir] [-a cafile] HOST PORT FILE...
 *   -d: the client certificate of FILE is certdir/<FILE's basename minus .log>.crt and .key
 *   -a: verify the server's certificate against cafile (no check of its name)
 * Prints one line like loadgen's (t_start, t_end, bytes), exits 1 if any connection failed.
 * build: gcc -O2 -Wall -o tlsgen tlsgen.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXC 256
#define CHUNK (256 * 1024)
static const char *g_host, *g_certdir, *g_ca;
static int g_port;
static pthread_barrier_t g_bar;

struct job {
    const char *path;
    size_t sent, size;
    double t_end;
    char why[256];
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_retry(void) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(g_port);
    inet_pton(AF_INET, g_host, &a.sin_addr);
    for (int i = 0; i < 100; i++) { /* bounded: 100 x 100ms */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        close(fd);
        usleep(100000);
    }
    return -1;
}

static void fail(struct job *j, const char *what) {
    unsigned long e = ERR_get_error();
    snprintf(j->why, sizeof j->why, "%s: %s", what, e ? ERR_error_string(e, NULL) : strerror(errno));
}

/* the client context of one connection: its own certificate when -d is given */
static SSL_CTX *context(struct job *j) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (g_ca) {
        if (SSL_CTX_load_verify_locations(ctx, g_ca, NULL) != 1) { fail(j, "ca"); SSL_CTX_free(ctx); return NULL; }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (g_certdir) {
        const char *base = strrchr(j->path, '/');
        base = base ? base + 1 : j->path;
        size_t n = strlen(base);
        if (n > 4 && strcmp(base + n - 4, ".log") == 0) n -= 4;
        char crt[4096], key[4096];
        snprintf(crt, sizeof crt, "%s/%.*s.crt", g_certdir, (int)n, base);
        snprintf(key, sizeof key, "%s/%.*s.key", g_certdir, (int)n, base);
        if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            fail(j, crt);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

static void *run(void *arg) {
    struct job *j = arg;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    char *p = MAP_FAILED;
    int s = -1, ready = 0;
    int fd = open(j->path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { fail(j, "open"); goto start; }
    j->size = st.st_size;
    p = mmap(NULL, j->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) { fail(j, "mmap"); goto start; }
    if (!(ctx = context(j))) { if (!j->why[0]) fail(j, "context"); goto start; }
    if ((s = connect_retry()) < 0) { fail(j, "connect"); goto start; }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, s);
    if (SSL_connect(ssl) != 1) { fail(j, "handshake"); goto start; }
    ready = 1;
start:
    pthread_barrier_wait(&g_bar); /* all handshakes done before sending */
    if (!ready) goto out;
    while (j->sent < j->size) {
        size_t n = j->size - j->sent;
        if (n > CHUNK) n = CHUNK;
        int w = SSL_write(ssl, p + j->sent, (int)n);
        if (w <= 0) { fail(j, "write"); goto out; }
        j->sent += w;
    }
    SSL_shutdown(ssl); /* close_notify: the receiver's end of stream */
    struct timeval tv = {120, 0}; /* bounded wait for the receiver's close */
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    while (SSL_read(ssl, buf, sizeof buf) > 0) {}
out:
    j->t_end = now();
    if (ssl) SSL_free(ssl);
    if (s >= 0) close(s);
    if (ctx) SSL_CTX_free(ctx);
    if (p != MAP_FAILED) munmap(p, j->size);
    return NULL;
}

int main(int argc, char **argv) {
    int timeout = 600, opt;
    while ((opt = getopt(argc, argv, "t:d:a:")) != -1) {
        if (opt == 't') timeout = atoi(optarg);
        if (opt == 'd') g_certdir = optarg;
        if (opt == 'a') g_ca = optarg;
    }
    if (argc - optind < 3) {
        fprintf(stderr, "usage: tlsgen [-t s] [-d certdir] [-a cafile] HOST PORT FILE...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(timeout);
    g_host = argv[optind];
    g_port = atoi(argv[optind + 1]);
    int n = argc - optind - 2;
    if (n > MAXC) n = MAXC;
    static struct job jobs[MAXC];
    pthread_t th[MAXC];
    pthread_barrier_init(&g_bar, NULL, n + 1);
    for (int i = 0; i < n; i++) {
        jobs[i].path = argv[optind + 2 + i];
        pthread_create(&th[i], NULL, run, &jobs[i]);
    }
    pthread_barrier_wait(&g_bar);
    double t0 = now(), tmax = t0;
    size_t tot = 0, totsize = 0;
    int errs = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        tot += jobs[i].sent;
        totsize += jobs[i].size;
        if (jobs[i].why[0]) { errs++; fprintf(stderr, "conn %d (%s): %s after %zu bytes\n", i, jobs[i].path, jobs[i].why, jobs[i].sent); }
        if (jobs[i].t_end > tmax) tmax = jobs[i].t_end;
    }
    double dt = tmax - t0;
    printf("tlsgen conns=%d bytes=%zu/%zu errors=%d t_start=%.6f t_end=%.6f secs=%.3f MB/s=%.1f\n",
           n, tot, totsize, errs, t0, tmax, dt, tot / dt / 1e6);
    return errs ? 1 : 0;
}
