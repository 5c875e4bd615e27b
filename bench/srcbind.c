/* srcbind.so: an LD_PRELOAD shim for the benchmark, so that peerbench's unchanged loadgen and
 * relpgen (one thread, file and TCP connection per origin, all from 127.0.0.1) reach a
 * `[[listen]] origin = "address"` listener as 20 origins instead of one. A thread that opens
 * the N-th file named in SRCBIND_FILES (space-separated basenames) binds its next IPv4
 * connections to 127.0.0.(SRCBIND_BASE + N) before connecting; the whole of 127/8 is the
 * loopback, so the listener on 127.0.0.1 sees that address, and the benchmark knows which
 * origin holds which corpus file. Anything else (other files, IPv6, no SRCBIND_FILES) is
 * passed through untouched.
 *
 * build: gcc -O2 -shared -fPIC -o srcbind.so srcbind.c -ldl
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* the file this thread opened last, as its index in SRCBIND_FILES; -1: none */
static __thread int file_index = -1;

static int index_of(const char *path) {
    const char *files = getenv("SRCBIND_FILES");
    if (!files) return -1;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    int i = 0;
    for (const char *p = files; *p;) {
        while (*p == ' ') p++;
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0) break;
        if (n == len && memcmp(p, base, n) == 0) return i;
        i++;
        p += n;
    }
    return -1;
}

static void note(const char *path) {
    int i = index_of(path);
    if (i >= 0) file_index = i;
}

int open(const char *path, int flags, ...) {
    static int (*real)(const char *, int, ...);
    if (!real) real = dlsym(RTLD_NEXT, "open");
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    note(path);
    return real(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    static int (*real)(const char *, int, ...);
    if (!real) real = dlsym(RTLD_NEXT, "open64");
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    note(path);
    return real(path, flags, mode);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = dlsym(RTLD_NEXT, "connect");
    if (file_index >= 0 && addr->sa_family == AF_INET) {
        const char *b = getenv("SRCBIND_BASE");
        int host = (b ? atoi(b) : 10) + file_index;
        if (host > 0 && host < 255) {
            struct sockaddr_in src = {0};
            src.sin_family = AF_INET;
            src.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)host);
            bind(fd, (struct sockaddr *)&src, sizeof src); /* a failure leaves 127.0.0.1 */
        }
    }
    return real(fd, addr, len);
}
