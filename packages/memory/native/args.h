// Checked argument getters for the @mp addons (kept identical in every package that has native code;
// tools/pack-check's native-headers test compares the copies).
//
// The addons build with NAPI_DISABLE_CPP_EXCEPTIONS, where `info[i].As<Napi::Number>().Int32Value()` on
// a string sets a pending exception and returns 0 — and the call would go on with fd 0. Each getter here
// checks the JavaScript type and range, throws a TypeError or RangeError naming the argument, and returns
// false; `MP_ARG` returns from the binding at once.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace mp {

inline bool ArgFail(const Napi::CallbackInfo& info, size_t i, const char* name, const char* want, bool range = false) {
  std::string msg = std::string("argument ") + std::to_string(i) + " (" + name + ") must be " + want;
  if (range) {
    Napi::RangeError::New(info.Env(), msg).ThrowAsJavaScriptException();
  } else {
    Napi::TypeError::New(info.Env(), msg).ThrowAsJavaScriptException();
  }
  return false;
}

// An integer-valued number in [lo, hi].
inline bool ArgInteger(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi, double* out) {
  if (i >= info.Length() || !info[i].IsNumber()) return ArgFail(info, i, name, "a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v) return ArgFail(info, i, name, "an integer", true);
  if (v < lo || v > hi) return ArgFail(info, i, name, "in range", true);
  *out = v;
  return true;
}

inline bool ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  double v;
  if (!ArgInteger(info, i, name, INT32_MIN, INT32_MAX, &v)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

inline bool ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out) {
  double v;
  if (!ArgInteger(info, i, name, 0, UINT32_MAX, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// A file descriptor: an int32 ≥ 0.
inline bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out) {
  double v;
  if (!ArgInteger(info, i, name, 0, INT32_MAX, &v)) return false;
  *out = static_cast<int>(v);
  return true;
}

// A safe integer (|v| ≤ 2^53 − 1): offsets and lengths.
inline bool ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  double v;
  if (!ArgInteger(info, i, name, -9007199254740991.0, 9007199254740991.0, &v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// Any number (timeouts: negative means unbounded).
inline bool ArgDouble(const Napi::CallbackInfo& info, size_t i, const char* name, double* out) {
  if (i >= info.Length() || !info[i].IsNumber()) return ArgFail(info, i, name, "a number");
  *out = info[i].As<Napi::Number>().DoubleValue();
  if (std::isnan(*out)) return ArgFail(info, i, name, "a number, not NaN", true);
  return true;
}

inline bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool* out) {
  if (i >= info.Length() || !info[i].IsBoolean()) return ArgFail(info, i, name, "a boolean");
  *out = info[i].As<Napi::Boolean>().Value();
  return true;
}

inline bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (i >= info.Length() || !info[i].IsString()) return ArgFail(info, i, name, "a string");
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

inline bool ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Function* out) {
  if (i >= info.Length() || !info[i].IsFunction()) return ArgFail(info, i, name, "a function");
  *out = info[i].As<Napi::Function>();
  return true;
}

inline bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Uint8Array* out) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return ArgFail(info, i, name, "a Uint8Array");
  }
  *out = info[i].As<Napi::Uint8Array>();
  return true;
}

template <typename T>
inline bool ArgExternal(const Napi::CallbackInfo& info, size_t i, const char* name, T** out) {
  if (i >= info.Length() || !info[i].IsExternal()) return ArgFail(info, i, name, "a handle from this addon");
  *out = info[i].As<Napi::External<T>>().Data();
  return true;
}

}  // namespace mp

// `MP_ARG(Int32, fd, 0)` declares nothing: it fills an already declared `fd` from info[0] or returns
// undefined from the binding with the TypeError/RangeError pending.
#define MP_ARG(kind, var, index) \
  if (!mp::Arg##kind(info, (index), #var, &(var))) return info.Env().Undefined()
