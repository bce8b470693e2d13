// code_cache.h: the reading side of the V8 code cache of the CommonJS bundles (src/code-cache.ts, which
// writes the files and owns their format). One call does what a secondary's attach used to do in
// JavaScript before any of its own code could come from the cache — read the bundle, check the cache
// directory chain and the file by the safe file rules of DESIGN §5 (src/files.ts), read the file, check
// its header and checksums — so the code that runs uncached at every start is a few lines
// (src/boot.cjs), not a loader (packages/eal/README.md, "Attach time").
//
//   checksum(bytes) → the 16 hex digits of Fnv64 (the writer's, src/code-cache.ts)
//   readCached(bundle, from, dir, file, node) → [source, sourceSum, state, why, payload] | undefined
//
// - undefined: the bundle cannot be read (the caller requires it instead).
// - state: 'hit' (payload is the V8 data) · 'miss' (no cache yet: a missing directory or file) ·
//   'stale' (another build of the bundle, another Node) · 'corrupt' (bad header, length or checksum) ·
//   'refused' (a component from `from` down to `dir` is not a directory of this uid, not a link, not
//   group/world writable; or the file is not a regular 0600-or-less file of this uid, or is a link).
// - File format (version 2, one line of text then the data):
//     MPV8 2 <source checksum> <node version> <payload bytes> <payload checksum>\n<V8 cached data>
#pragma once
#include <napi.h>
#include "args.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace mp {

// A 64-bit FNV-1a over the bytes taken as little-endian 64-bit words (the tail as one zero-padded word),
// then its length, as 16 hex digits. Not a cryptographic hash: the cache directory admits only this uid.
inline std::string Fnv64(const uint8_t* p, size_t n) {
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kPrime;
    h ^= h >> 29;
  }
  if (i < n) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, n - i);
    h = (h ^ w) * kPrime;
    h ^= h >> 29;
  }
  h = (h ^ static_cast<uint64_t>(n)) * kPrime;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

namespace cc {

// What the checks need of a file: lstat/fstat through statx. glibc exports lstat and fstat as functions
// only from 2.33 (before, they were inline wrappers of __lxstat/__fxstat); the prebuilds target 2.28, whose
// statx wrapper exists (tools/pack-check checks the symbol versions).
struct Meta {
  mode_t mode = 0;
  uid_t uid = 0;
  uint64_t size = 0;
};

inline int StatOf(int dirfd, const char* path, int flags, Meta* m) {
  struct statx sx;
  if (statx(dirfd, path, flags, STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE, &sx) != 0) return -1;
  m->mode = sx.stx_mode;
  m->uid = sx.stx_uid;
  m->size = sx.stx_size;
  return 0;
}

struct Outcome {
  std::string state;
  std::string why;
};

inline std::string Mode4(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

inline const char* KindOf(const Meta& st) {
  if (S_ISLNK(st.mode)) return "a symbolic link";
  if (S_ISDIR(st.mode)) return "a directory";
  if (S_ISREG(st.mode)) return "a regular file";
  if (S_ISSOCK(st.mode)) return "a socket";
  return "a special file";
}

inline Outcome Refuse(const std::string& path, const std::string& why) { return {"refused", "refusing " + path + ": " + why}; }

// files.ts's problem(): why `st` is not a directory (`dir`) or a regular file of ours, or "" when it is.
inline std::string Problem(const Meta& st, bool dir) {
  if (dir ? !S_ISDIR(st.mode) : !S_ISREG(st.mode)) {
    return std::string("it is ") + KindOf(st) + " owned by uid " + std::to_string(st.uid) + ", not " +
           (dir ? "a directory" : "a regular file") + (S_ISLNK(st.mode) ? " (links are never followed)" : "");
  }
  const uid_t me = geteuid();
  if (st.uid != me) {
    return "it belongs to uid " + std::to_string(st.uid) + ", not to this process's uid " + std::to_string(me) +
           " (planted by another user?)";
  }
  if ((st.mode & (dir ? 022 : 077)) != 0) {
    return "its mode " + Mode4(st.mode) + " lets other users in (allowed: at most " +
           (dir ? "0755 without group/other write" : "0600") + ")";
  }
  return "";
}

// Every component from `from` down to `dir` (ensureOwnedDir without create): "" state when all pass.
inline Outcome CheckChain(const std::string& from, const std::string& dir) {
  if (dir.compare(0, from.size(), from) != 0 || (dir.size() > from.size() && dir[from.size()] != '/' && from != "/")) {
    return Refuse(dir, from + " is not an ancestor of it");
  }
  std::vector<std::string> chain{from};
  for (size_t p = from.size() + 1; p < dir.size(); p++) {
    if (dir[p] == '/') chain.push_back(dir.substr(0, p));
  }
  if (dir != from) chain.push_back(dir);
  for (const std::string& d : chain) {
    Meta st;
    if (StatOf(AT_FDCWD, d.c_str(), AT_SYMLINK_NOFOLLOW, &st) != 0) {
      const int e = errno;
      if (e == ENOENT) return {"miss", ""};
      if (e == EACCES || e == EPERM) return Refuse(d, "permission denied (does it belong to another user?)");
      if (e == ENOTDIR) return Refuse(d, "a component of it is not a directory");
      return Refuse(d, std::string("lstat: ") + strerror(e));
    }
    std::string why = Problem(st, true);
    if (!why.empty()) return Refuse(d, why);
  }
  return {"", ""};
}

// Read all of fd (of `size` bytes by fstat) into out; false when it shrank or a read failed.
inline bool ReadAll(int fd, size_t size, std::vector<uint8_t>* out) {
  out->resize(size);
  size_t off = 0;
  while (off < size) {
    const ssize_t n = pread(fd, out->data() + off, size - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// The cache file: opened O_NOFOLLOW, checked with fstat, read whole. "" state when read.
inline Outcome ReadFile(const std::string& file, std::vector<uint8_t>* out) {
  const int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return {"miss", ""};
    if (e == ELOOP) {
      Meta st;
      const std::string owner = StatOf(AT_FDCWD, file.c_str(), AT_SYMLINK_NOFOLLOW, &st) == 0 ? " owned by uid " + std::to_string(st.uid) : "";
      return Refuse(file, "it is a symbolic link" + owner + " (links are never followed)");
    }
    if (e == EACCES || e == EPERM) return Refuse(file, "permission denied (does it belong to another user?)");
    return Refuse(file, std::string("open: ") + strerror(e));
  }
  Meta st;
  Outcome r{"", ""};
  if (StatOf(fd, "", AT_EMPTY_PATH, &st) != 0) {
    r = Refuse(file, std::string("fstat: ") + strerror(errno));
  } else {
    std::string why = Problem(st, false);
    if (!why.empty()) {
      r = Refuse(file, why);
    } else if (!ReadAll(fd, static_cast<size_t>(st.size), out)) {
      r = {"corrupt", file + " shrank or could not be read"};
    }
  }
  close(fd);
  return r;
}

// The header's fields, split at single spaces: MPV8 2 <source> <node> <bytes> <checksum>.
inline bool ParseHeader(const std::vector<uint8_t>& f, size_t* nl, std::vector<std::string>* fields) {
  static const char kMagic[] = "MPV8 2 ";
  const size_t m = sizeof kMagic - 1;
  const size_t limit = f.size() < 512 ? f.size() : 512;
  size_t i = 0;
  while (i < limit && f[i] != '\n') i++;
  if (i == limit || i < m || std::memcmp(f.data(), kMagic, m) != 0) return false;
  *nl = i;
  std::string cur;
  for (size_t k = m; k < i; k++) {
    if (f[k] == ' ') {
      fields->push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(f[k]));
    }
  }
  fields->push_back(cur);
  if (fields->size() != 4) return false;
  for (const std::string& s : *fields) {
    if (s.empty()) return false;
  }
  for (char c : (*fields)[2]) {
    if (c < '0' || c > '9') return false;
  }
  return (*fields)[2].size() <= 12;
}

}  // namespace cc

// checksum(bytes): a 64-bit FNV-1a over the bytes taken as little-endian 64-bit words (the tail as one
// zero-padded word), then its length, as 16 hex digits. The code cache's integrity check (src/code-cache.ts):
// V8 does not verify cached data in release builds, and node:crypto costs ~10 ms to load. Not a
// cryptographic hash: the cache directory admits only this uid.
inline Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Uint8Array bytes;
  if (!mp::ArgBytes(info, 0, "bytes", &bytes)) return info.Env().Undefined();
  return Napi::String::New(info.Env(), mp::Fnv64(bytes.Data(), bytes.ByteLength()));
}

inline Napi::Value ReadCached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 5; i++) {
    if (!info[i].IsString()) {
      Napi::TypeError::New(env, "readCached(bundle, from, dir, file, node): strings expected").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  const std::string bundle = info[0].As<Napi::String>();
  const std::string from = info[1].As<Napi::String>();
  const std::string dir = info[2].As<Napi::String>();
  const std::string file = info[3].As<Napi::String>();
  const std::string node = info[4].As<Napi::String>();

  std::vector<uint8_t> src;
  {
    const int fd = open(bundle.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return env.Undefined();
    cc::Meta st;
    const bool ok = cc::StatOf(fd, "", AT_EMPTY_PATH, &st) == 0 && S_ISREG(st.mode) && cc::ReadAll(fd, static_cast<size_t>(st.size), &src);
    close(fd);
    if (!ok) return env.Undefined();
  }
  const std::string sourceSum = Fnv64(src.data(), src.size());

  cc::Outcome r = cc::CheckChain(from, dir);
  std::vector<uint8_t> f;
  size_t nl = 0;
  if (r.state.empty()) r = cc::ReadFile(file, &f);
  if (r.state.empty()) {
    std::vector<std::string> h;
    if (!cc::ParseHeader(f, &nl, &h)) {
      r = {"corrupt", file + " has no valid header"};
    } else if (h[0] != sourceSum) {
      r = {"stale", "it was made for another build of the bundle"};
    } else if (h[1] != node) {
      r = {"stale", "it was made for Node " + h[1]};
    } else {
      const size_t bytes = f.size() - nl - 1;
      if (std::to_string(bytes) != h[2] || Fnv64(f.data() + nl + 1, bytes) != h[3]) {
        r = {"corrupt", file + ": the payload does not match its length or checksum"};
      } else {
        r = {"hit", ""};
      }
    }
  }
  Napi::Array out = Napi::Array::New(env, 5);
  // An ASCII bundle (the build escapes every other character: `ascii` in tsup.base.ts) becomes a one-byte
  // string by a copy; UTF-8 with other characters in it takes V8 a decode into a two-byte string, ≈ 0.6 ms
  // for a 70 KB bundle, and the bundle's source is its cache's key as read here.
  bool ascii = true;
  for (uint8_t c : src) ascii &= c < 0x80;
  napi_value text;
  const char* chars = reinterpret_cast<const char*>(src.data());
  const napi_status made = ascii ? napi_create_string_latin1(env, chars, src.size(), &text) : napi_create_string_utf8(env, chars, src.size(), &text);
  if (made != napi_ok) {
    Napi::Error::New(env, "readCached: cannot make a string of the bundle").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  out.Set(0u, text);
  out.Set(1u, Napi::String::New(env, sourceSum));
  out.Set(2u, Napi::String::New(env, r.state));
  out.Set(3u, Napi::String::New(env, r.why));
  if (r.state == "hit") out.Set(4u, Napi::Buffer<uint8_t>::Copy(env, f.data() + nl + 1, f.size() - nl - 1));
  return out;
}

}  // namespace mp
