// One libuv poll watch with one lifetime rule, for every descriptor an @mp addon watches (kept identical
// in every package that has native code; tools/pack-check compares the copies).
//
// The watch owns its descriptor. It is freed when both have happened: libuv's close callback ran, and
// the JavaScript handle was collected (or the environment was torn down, after which no finalizer runs).
// close() stops polling, closes the descriptor and asks libuv to close the handle; it is idempotent.
// A `once` watch closes itself before its callback runs (pidfd: a process exits once).
#pragma once

#include <napi.h>
#include <uv.h>

#include <unistd.h>

namespace mp {

struct Watch {
  uv_poll_t poll;
  napi_env env = nullptr;
  int fd = -1;
  int events = 0;
  bool once = false;
  Napi::FunctionReference cb;
  bool closed = false;     // close requested (descriptor closed, uv_close asked)
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
  if (removeHook) napi_remove_env_cleanup_hook(w->env, WatchTeardown, w);
  uv_poll_stop(&w->poll);  // takes fd out of epoll first, so closing it below is safe
  close(w->fd);
  w->cb.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchUvClosed);
}

inline void WatchTeardown(void* arg) {
  auto* w = static_cast<Watch*>(arg);
  w->finalized = true;
  WatchClose(w, false);
}

inline void OnWatchEvent(uv_poll_t* h, int, int) {
  auto* w = static_cast<Watch*>(h->data);
  if (w->closed) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  Napi::Function fn = w->cb.Value();
  if (w->once) WatchClose(w);
  // MakeCallback drains the microtask queue, as any libuv-originated callback should.
  fn.MakeCallback(env.Global(), {});
}

// Start watching `fd` for `events` (UV_READABLE…). Returns the JS handle { close(), pause(), resume() },
// or undefined with an exception pending (the descriptor is then NOT closed: the caller still owns it).
// pause()/resume(): stop and restart polling with the descriptor kept open (a listener out of
// descriptors, EMFILE, stays readable and would otherwise spin).
inline Napi::Value WatchNew(Napi::Env env, int fd, int events, bool once, Napi::Function cb, bool ref,
                            Napi::Error (*errnoError)(Napi::Env, int, const char*)) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, "watch: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new Watch();
  w->env = env;
  w->fd = fd;
  w->events = events;
  w->once = once;
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    delete w;  // libuv holds nothing of a handle whose init failed
    errnoError(env, -r, "uv_poll_init").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  r = uv_poll_start(&w->poll, events, OnWatchEvent);
  if (r != 0) {
    w->closed = true;
    w->finalized = true;  // nobody else holds w: the close callback frees it
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchUvClosed);
    errnoError(env, -r, "uv_poll_start").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  w->cb = Napi::Persistent(cb);
  if (!ref) uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  napi_add_env_cleanup_hook(env, WatchTeardown, w);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    WatchClose(w);
    return ci.Env().Undefined();
  }));
  handle.Set("pause", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (!w->closed) uv_poll_stop(&w->poll);
    return ci.Env().Undefined();
  }));
  handle.Set("resume", Napi::Function::New(env, [w, errnoError](const Napi::CallbackInfo& ci) {
    Napi::Env e = ci.Env();
    if (!w->closed) {
      int rr = uv_poll_start(&w->poll, w->events, OnWatchEvent);
      if (rr != 0) errnoError(e, -rr, "uv_poll_start").ThrowAsJavaScriptException();
    }
    return e.Undefined();
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

}  // namespace mp
