// One libuv poll watch with one lifetime rule, for every descriptor an @mp addon watches (kept identical
// in every package that has native code; tools/pack-check compares the copies).
//
// The watch is freed when both have happened: libuv's close callback ran, and the JavaScript handle was
// collected (or the environment was torn down, after which no finalizer runs). close() stops polling,
// closes the descriptor when the watch owns it, and asks libuv to close the handle; it is idempotent.
// A `once` watch closes itself before its callback runs (pidfd: a process exits once).
//
// A watch that does more on a wake-up than call back (@mp/ipc drains a batch of datagrams first)
// derives from Watch, overrides OnEvent (and OnClose for what it holds) and starts with WatchStart.
#pragma once

#include <napi.h>
#include <uv.h>

#include <fcntl.h>
#include <unistd.h>

namespace mp {

using ErrnoErrorFn = Napi::Error (*)(Napi::Env, int, const char*);

struct WatchOptions {
  int events = UV_READABLE;  // UV_READABLE, UV_DISCONNECT…
  bool once = false;         // close before the first callback runs
  bool ref = true;           // the watch keeps the event loop alive
  bool ownsFd = true;        // close() closes the descriptor
  bool blocking = false;     // put the descriptor back into blocking mode after uv_poll_init made it
                             // non-blocking (its owner passes MSG_DONTWAIT per call instead)
  bool passEvents = false;   // the default OnEvent calls cb(events) (-1: libuv's poll failed), not cb()
};

struct Watch {
  virtual ~Watch() = default;
  // A wake-up (status < 0: libuv's poll failed on the descriptor). The default calls cb() or cb(events).
  virtual void OnEvent(int status, int revents);
  // Drop what a derived watch holds; runs once, from WatchClose, before libuv closes the handle.
  virtual void OnClose() {}

  uv_poll_t poll;
  napi_env env = nullptr;
  int fd = -1;
  WatchOptions opt;
  Napi::FunctionReference cb;
  bool closed = false;     // close requested (descriptor closed if owned, uv_close asked)
  bool uvClosed = false;   // libuv's close callback ran
  bool finalized = false;  // the JS handle was collected, or the env is gone
};

inline void WatchTeardown(void* arg);

inline void OnWatchUvClosed(uv_handle_t* h) {
  auto* w = static_cast<Watch*>(h->data);
  w->uvClosed = true;
  if (w->finalized) delete w;
}

inline void WatchClose(Watch* w, bool removeHook = true) {
  if (w->closed) return;
  w->closed = true;
  // Fails only for a hook that is not registered: then there is nothing to remove.
  if (removeHook) (void)napi_remove_env_cleanup_hook(w->env, WatchTeardown, w);
  // uv_poll_stop takes fd out of epoll first, so closing it below is safe; on unix it cannot fail.
  uv_poll_stop(&w->poll);
  // Not checked: EINTR and EIO still free the descriptor on Linux, EBADF leaves nothing to undo.
  if (w->opt.ownsFd) close(w->fd);
  w->cb.Reset();
  w->OnClose();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchUvClosed);
}

inline void WatchTeardown(void* arg) {
  auto* w = static_cast<Watch*>(arg);
  w->finalized = true;
  WatchClose(w, false);
}

inline void Watch::OnEvent(int status, int revents) {
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  Napi::Function fn = cb.Value();
  if (opt.once) WatchClose(this);
  // MakeCallback drains the microtask queue, as any libuv-originated callback should.
  if (opt.passEvents) {
    fn.MakeCallback(e.Global(), {Napi::Number::New(e, status < 0 ? -1 : revents)});
  } else {
    fn.MakeCallback(e.Global(), {});
  }
}

inline void OnWatchEvent(uv_poll_t* h, int status, int revents) {
  auto* w = static_cast<Watch*>(h->data);
  if (w->closed) return;
  w->OnEvent(status, revents);
}

// Start watching `fd` with `w` (which this takes: on failure it is freed). Returns the JS handle
// { close(), pause(), resume(), ref(), unref() }, or undefined with an exception pending (the descriptor
// is then NOT closed: the caller still owns it). pause()/resume(): stop and restart polling with the
// descriptor kept open (a listener out of descriptors, EMFILE, stays readable and would otherwise spin).
inline Napi::Value WatchStart(Napi::Env env, Watch* w, int fd, Napi::Function cb, const WatchOptions& opt,
                              ErrnoErrorFn errnoError) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    delete w;
    Napi::Error::New(env, "watch: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  w->env = env;
  w->fd = fd;
  w->opt = opt;
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    delete w;  // libuv holds nothing of a handle whose init failed
    errnoError(env, -r, "uv_poll_init").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char* failed = nullptr;
  if (opt.blocking) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
      r = -errno;
      failed = "fcntl(F_SETFL)";
    }
  }
  if (failed == nullptr) {
    r = uv_poll_start(&w->poll, opt.events, OnWatchEvent);
    if (r != 0) failed = "uv_poll_start";
  }
  if (failed != nullptr) {
    w->closed = true;
    w->finalized = true;  // nobody else holds w: the close callback frees it
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchUvClosed);
    errnoError(env, -r, failed).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  w->cb = Napi::Persistent(cb);
  if (!opt.ref) uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  if (napi_add_env_cleanup_hook(env, WatchTeardown, w) != napi_ok) {
    w->opt.ownsFd = false;  // the caller still owns the descriptor on failure
    w->finalized = true;    // nobody else holds w: the close callback frees it
    WatchClose(w, false);
    Napi::Error::New(env, "watch: napi_add_env_cleanup_hook failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    WatchClose(w);
    return ci.Env().Undefined();
  }));
  handle.Set("pause", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (!w->closed) uv_poll_stop(&w->poll);  // cannot fail on unix
    return ci.Env().Undefined();
  }));
  handle.Set("resume", Napi::Function::New(env, [w, errnoError](const Napi::CallbackInfo& ci) {
    Napi::Env e = ci.Env();
    if (!w->closed) {
      int rr = uv_poll_start(&w->poll, w->opt.events, OnWatchEvent);
      if (rr != 0) errnoError(e, -rr, "uv_poll_start").ThrowAsJavaScriptException();
    }
    return e.Undefined();
  }));
  handle.Set("ref", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (!w->closed) uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
    return ci.Env().Undefined();
  }));
  handle.Set("unref", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (!w->closed) uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
    return ci.Env().Undefined();
  }));
  handle.AddFinalizer(
      [](Napi::Env, Watch* fw) {
        if (fw->finalized) return;
        fw->finalized = true;
        if (!fw->closed) {
          WatchClose(fw);
        } else if (fw->uvClosed) {
          delete fw;
        }
      },
      w);
  return handle;
}

// The plain watch: call back on each wake-up (cb(), or once for `once`); the watch owns fd.
inline Napi::Value WatchNew(Napi::Env env, int fd, int events, bool once, Napi::Function cb, bool ref,
                            ErrnoErrorFn errnoError) {
  WatchOptions opt;
  opt.events = events;
  opt.once = once;
  opt.ref = ref;
  return WatchStart(env, new Watch(), fd, cb, opt, errnoError);
}

}  // namespace mp
