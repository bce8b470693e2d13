// @mp/ipc native binding (placeholder until the transport lands).
#include <napi.h>

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
}  // namespace

NODE_API_MODULE(mp_ipc, Init)
