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

// An integer-valued number in [lo, hi], from any value (an argument or an option's property): the
// message names argument i and `name`.
inline bool CheckInteger(const Napi::CallbackInfo& info, const Napi::Value& v, size_t i, const char* name, double lo,
                         double hi, double* out) {
  if (!v.IsNumber()) return ArgFail(info, i, name, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d) return ArgFail(info, i, name, "an integer", true);
  if (d < lo || d > hi) return ArgFail(info, i, name, "in range", true);
  *out = d;
  return true;
}

// An integer-valued number in [lo, hi].
inline bool ArgInteger(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi, double* out) {
  if (i >= info.Length()) return ArgFail(info, i, name, "a number");
  return CheckInteger(info, info[i], i, name, lo, hi, out);
}

inline bool ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  double v = 0;
  if (!ArgInteger(info, i, name, INT32_MIN, INT32_MAX, &v)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

inline bool ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out) {
  double v = 0;
  if (!ArgInteger(info, i, name, 0, UINT32_MAX, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// A file descriptor: an int32 ≥ 0.
inline bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out) {
  double v = 0;
  if (!ArgInteger(info, i, name, 0, INT32_MAX, &v)) return false;
  *out = static_cast<int>(v);
  return true;
}

// A safe integer (|v| ≤ 2^53 − 1): offsets and lengths.
inline bool ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  double v = 0;
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

// A typed array of one element type (Uint32Array, Int32Array, BigUint64Array…).
template <typename T>
inline bool ArgTypedOf(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
                       const char* want, Napi::TypedArrayOf<T>* out) {
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    return ArgFail(info, i, name, want);
  }
  *out = info[i].As<Napi::TypedArrayOf<T>>();
  return true;
}

inline bool ArgUint32Array(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Uint32Array* out) {
  return ArgTypedOf(info, i, name, napi_uint32_array, "a Uint32Array", out);
}

inline bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Int32Array* out) {
  return ArgTypedOf(info, i, name, napi_int32_array, "an Int32Array", out);
}

inline bool ArgBigUint64Array(const Napi::CallbackInfo& info, size_t i, const char* name,
                              Napi::BigUint64Array* out) {
  return ArgTypedOf(info, i, name, napi_biguint64_array, "a BigUint64Array", out);
}

inline bool ArgArrayBuffer(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::ArrayBuffer* out) {
  if (i >= info.Length() || !info[i].IsArrayBuffer()) return ArgFail(info, i, name, "an ArrayBuffer");
  *out = info[i].As<Napi::ArrayBuffer>();
  return true;
}

// The bytes of any typed array or ArrayBuffer (a byte range the call reads or writes).
struct Span {
  uint8_t* data = nullptr;
  size_t len = 0;
};

inline bool ArgSpan(const Napi::CallbackInfo& info, size_t i, const char* name, Span* out) {
  if (i < info.Length() && info[i].IsTypedArray()) {
    Napi::TypedArray t = info[i].As<Napi::TypedArray>();
    out->data = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    out->len = t.ByteLength();
    return true;
  }
  if (i < info.Length() && info[i].IsArrayBuffer()) {
    Napi::ArrayBuffer b = info[i].As<Napi::ArrayBuffer>();
    out->data = static_cast<uint8_t*>(b.Data());
    out->len = b.ByteLength();
    return true;
  }
  return ArgFail(info, i, name, "a typed array or an ArrayBuffer");
}

// An unsigned 64-bit value: a safe non-negative integer or a BigInt that fits (addresses, offsets).
inline bool ArgUint64(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t* out) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return ArgFail(info, i, name, "in range", true);
    *out = v;
    return true;
  }
  double v = 0;
  if (!ArgInteger(info, i, name, 0, 9007199254740991.0, &v)) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

inline bool ArgObject(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Object* out) {
  if (i >= info.Length() || !info[i].IsObject()) return ArgFail(info, i, name, "an object");
  *out = info[i].As<Napi::Object>();
  return true;
}

inline bool ArgArray(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Array* out) {
  if (i >= info.Length() || !info[i].IsArray()) return ArgFail(info, i, name, "an array");
  *out = info[i].As<Napi::Array>();
  return true;
}

// Property `key` of an options object (argument i) as a uint32; the message names "argument i (key)".
inline bool PropUint32(const Napi::CallbackInfo& info, size_t i, const Napi::Object& o, const char* key, uint32_t* out) {
  double v = 0;
  if (!CheckInteger(info, o.Get(key), i, key, 0, UINT32_MAX, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

inline bool PropBool(const Napi::CallbackInfo& info, size_t i, const Napi::Object& o, const char* key, bool* out) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) return ArgFail(info, i, key, "a boolean");
  *out = v.As<Napi::Boolean>().Value();
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
