// Zero-copy forwarding of a known number of bytes from one TCP socket to another, with Linux splice(2) through a
// pipe, on Node's own event loop. The Kafka proxy uses it for the bulk of large responses: the bytes go from the
// broker's socket to the client's without being copied into the process (Node cannot splice).
//
//   start(inFd, outFd, bytes, done) -> 0 | id   moves exactly `bytes` bytes. 0: all of them are already moved.
//                                               Otherwise the rest follows as the sockets allow, and
//                                               done(error, moved) is called once: error is null or a message.
//                                               Throws when the transfer fails at once.
//   cancel(id)                                  ends a pending transfer; done is not called
//
// The caller keeps its own reads of inFd and writes to outFd stopped until the transfer is over. A pending job works
// on dup()s of the two descriptors, so a socket JS closes meanwhile cannot have its number reused under the job; it
// waits for one thing at a time (input while its pipe is empty, output while it is not), through libuv.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define PIPE_BYTES (1 << 20)
#define SPARE_PIPES 64

typedef struct state state;

typedef struct job {
  state *owner;
  uint32_t id;
  int in, out;            // dup()s, owned by the job while it is pending
  int pipe_r, pipe_w;
  uint64_t to_read;       // bytes still to take from `in`
  uint64_t in_pipe;       // bytes taken and not yet written to `out`
  uint64_t moved;         // bytes written to `out`
  uv_poll_t in_poll, out_poll;
  int open_polls;         // poll handles not yet closed: the job is freed when none are left
  napi_ref done;
  napi_async_context async;
  struct job *next;
} job;

struct state {
  napi_env env;
  uv_loop_t *loop;
  uint32_t next_id;
  job *pending;
  int spare[SPARE_PIPES][2]; // empty pipes kept for the next transfers
  int spares;
};

static void take_pipe(state *s, int fds[2]) {
  if (s->spares > 0) {
    s->spares--;
    fds[0] = s->spare[s->spares][0];
    fds[1] = s->spare[s->spares][1];
    return;
  }
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    fds[0] = fds[1] = -1;
    return;
  }
  fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES); // best effort: a smaller pipe only means more calls
}

/** An empty pipe is kept for reuse; one that may still hold bytes is closed. */
static void give_pipe(state *s, int r, int w, int empty) {
  if (r < 0) return;
  if (empty && s->spares < SPARE_PIPES) {
    s->spare[s->spares][0] = r;
    s->spare[s->spares][1] = w;
    s->spares++;
    return;
  }
  close(r);
  close(w);
}

typedef enum { MOVING, FINISHED, FAILED } progress;

typedef struct {
  const char *why;
  int err;
} failure;

/** Moves what can be moved now, without blocking. */
static progress pump(job *j, failure *f) {
  for (;;) {
    int progressed = 0;
    if (j->to_read > 0 && j->in_pipe < PIPE_BYTES) {
      uint64_t want = j->to_read < PIPE_BYTES - j->in_pipe ? j->to_read : PIPE_BYTES - j->in_pipe;
      ssize_t n = splice(j->in, NULL, j->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        j->to_read -= (uint64_t)n;
        j->in_pipe += (uint64_t)n;
        progressed = 1;
      } else if (n == 0) {
        *f = (failure){"the source closed before the bytes arrived", 0};
        return FAILED;
      } else if (errno != EAGAIN && errno != EINTR) {
        *f = (failure){"reading the source failed", errno};
        return FAILED;
      }
    }
    if (j->in_pipe > 0) {
      unsigned int more = j->to_read > 0 ? SPLICE_F_MORE : 0;
      ssize_t n = splice(j->pipe_r, NULL, j->out, NULL, j->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK | more);
      if (n > 0) {
        j->in_pipe -= (uint64_t)n;
        j->moved += (uint64_t)n;
        progressed = 1;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        *f = (failure){"writing the destination failed", errno};
        return FAILED;
      }
    }
    if (j->to_read == 0 && j->in_pipe == 0) return FINISHED;
    if (!progressed) return MOVING;
  }
}

static void describe(const failure *f, char *message, size_t size) {
  if (f->err != 0) snprintf(message, size, "%s: %s", f->why, strerror(f->err));
  else snprintf(message, size, "%s", f->why);
}

static void poll_closed(uv_handle_t *handle) {
  job *j = handle->data;
  if (--j->open_polls == 0) free(j);
}

/** Ends a pending job: it leaves libuv before its descriptors close; its memory goes once both polls are closed. */
static void release(job *j, int succeeded) {
  state *s = j->owner;
  for (job **p = &s->pending; *p != NULL; p = &(*p)->next) {
    if (*p == j) {
      *p = j->next;
      break;
    }
  }
  napi_delete_reference(s->env, j->done);
  if (j->async != NULL) napi_async_destroy(s->env, j->async);
  give_pipe(s, j->pipe_r, j->pipe_w, succeeded);
  uv_poll_stop(&j->in_poll);
  uv_poll_stop(&j->out_poll);
  uv_close((uv_handle_t *)&j->in_poll, poll_closed);
  uv_close((uv_handle_t *)&j->out_poll, poll_closed);
  close(j->in);
  close(j->out);
}

/** Calls done(error, moved) on the JS thread, from libuv, and ends the job. */
static void report(job *j, const failure *f) {
  state *s = j->owner;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value done, error, moved, resource;
  napi_get_reference_value(env, j->done, &done);
  if (f == NULL) {
    napi_get_null(env, &error);
  } else {
    char message[200];
    describe(f, message, sizeof message);
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &error);
  }
  napi_create_double(env, (double)j->moved, &moved);
  napi_create_object(env, &resource);
  napi_value args[] = {error, moved};
  napi_async_context async = j->async;
  j->async = NULL; // destroyed here once the callback ran
  release(j, f == NULL);
  napi_make_callback(env, async, resource, done, 2, args, NULL);
  napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

static void on_ready(uv_poll_t *poll, int status, int events);

/** Waits for input while the pipe is empty, for output while it is not. Returns a libuv error or 0. */
static int wait_next(job *j) {
  if (j->in_pipe > 0) {
    uv_poll_stop(&j->in_poll);
    return uv_poll_start(&j->out_poll, UV_WRITABLE, on_ready);
  }
  uv_poll_stop(&j->out_poll);
  return uv_poll_start(&j->in_poll, UV_READABLE, on_ready);
}

static void on_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  job *j = poll->data;
  failure f = {NULL, 0};
  if (status < 0) {
    f = (failure){uv_strerror(status), 0};
    report(j, &f);
    return;
  }
  progress p = pump(j, &f);
  if (p == FINISHED) return report(j, NULL);
  if (p == FAILED) return report(j, &f);
  int r = wait_next(j);
  if (r < 0) {
    f = (failure){uv_strerror(r), 0};
    report(j, &f);
  }
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  state *s;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&s);
  int32_t in_fd, out_fd;
  double bytes;
  napi_valuetype type;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &in_fd) != napi_ok || napi_get_value_int32(env, argv[1], &out_fd) != napi_ok ||
      napi_get_value_double(env, argv[2], &bytes) != napi_ok || napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function || in_fd < 0 ||
      out_fd < 0 || !(bytes > 0) || bytes > 9007199254740991.0) {
    return fail(env, "start(inFd, outFd, bytes, done): two descriptors, a positive byte count and a function");
  }
  job *j = calloc(1, sizeof *j);
  if (j == NULL) return fail(env, "out of memory");
  j->owner = s;
  j->in = in_fd;
  j->out = out_fd;
  j->to_read = (uint64_t)bytes;
  int pipe_fds[2];
  take_pipe(s, pipe_fds);
  j->pipe_r = pipe_fds[0];
  j->pipe_w = pipe_fds[1];
  char message[200];
  if (j->pipe_r < 0) {
    snprintf(message, sizeof message, "cannot open a pipe: %s", strerror(errno));
    free(j);
    return fail(env, message);
  }
  // Most often the bytes are already in the kernel and the client keeps up: all of it moves now.
  failure f = {NULL, 0};
  progress p = pump(j, &f);
  if (p != MOVING) {
    give_pipe(s, j->pipe_r, j->pipe_w, p == FINISHED);
    free(j);
    if (p == FAILED) {
      describe(&f, message, sizeof message);
      return fail(env, message);
    }
    napi_value zero;
    napi_create_uint32(env, 0, &zero);
    return zero;
  }
  // The rest waits on the sockets: the job keeps duplicates, so descriptors JS closes meanwhile are not reused under it.
  j->in = fcntl(in_fd, F_DUPFD_CLOEXEC, 0);
  j->out = fcntl(out_fd, F_DUPFD_CLOEXEC, 0);
  int r = j->in < 0 || j->out < 0 ? UV_EMFILE : uv_poll_init(s->loop, &j->in_poll, j->in);
  if (r == 0) {
    j->open_polls = 1;
    j->in_poll.data = j;
    r = uv_poll_init(s->loop, &j->out_poll, j->out);
  }
  if (r < 0) {
    snprintf(message, sizeof message, "cannot wait for the sockets: %s", uv_strerror(r));
    give_pipe(s, j->pipe_r, j->pipe_w, 0);
    if (j->in >= 0) close(j->in);
    if (j->out >= 0) close(j->out);
    if (j->open_polls == 1) uv_close((uv_handle_t *)&j->in_poll, poll_closed); // frees the job
    else free(j);
    return fail(env, message);
  }
  j->open_polls = 2;
  j->out_poll.data = j;
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "splice-relay", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[3], 1, &j->done);
  napi_async_init(env, resource, name, &j->async);
  j->id = ++s->next_id == 0 ? ++s->next_id : s->next_id;
  j->next = s->pending;
  s->pending = j;
  r = wait_next(j);
  if (r < 0) {
    snprintf(message, sizeof message, "cannot wait for the sockets: %s", uv_strerror(r));
    release(j, 0);
    return fail(env, message);
  }
  napi_value id;
  napi_create_uint32(env, j->id, &id);
  return id;
}

static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  state *s;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&s);
  uint32_t id;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok) return fail(env, "cancel(id)");
  for (job *j = s->pending; j != NULL; j = j->next) {
    if (j->id == id) {
      release(j, 0);
      break;
    }
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  // One state per environment; its spare pipes live as long as the process.
  state *s = calloc(1, sizeof *s);
  if (s == NULL) return fail(env, "out of memory");
  s->env = env;
  if (napi_get_uv_event_loop(env, &s->loop) != napi_ok) return fail(env, "no event loop");
  napi_value start_fn, cancel_fn;
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, s, &start_fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, cancel, s, &cancel_fn);
  napi_set_named_property(env, exports, "start", start_fn);
  napi_set_named_property(env, exports, "cancel", cancel_fn);
  return exports;
}
