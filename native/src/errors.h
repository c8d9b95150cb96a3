// The one place where a failed call becomes a JS Error: code (errno name), errno, syscall, and a
// message naming the object involved.
#pragma once
#include <napi.h>
#include <string>

namespace kbp {

// err may be negative (libbpf's convention) or positive.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char *syscall, const std::string &object);

// A failed call whose errno is known only in a worker thread, carried to the main thread.
struct Failure {
  int err = 0;
  std::string syscall;
  std::string object;
  std::string detail;  // extra text, e.g. the tail of the verifier log
};

Napi::Error ToError(Napi::Env env, const Failure &f);

}  // namespace kbp
