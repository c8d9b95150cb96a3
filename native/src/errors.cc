#include "errors.h"

#include <cstdlib>
#include <cstring>

namespace kbp {

Napi::Error ToError(Napi::Env env, const Failure &f) {
  int err = std::abs(f.err);
  std::string message = f.syscall;
  if (!f.object.empty()) message += " on " + f.object;
  message += ": ";
  message += strerror(err);
  if (!f.detail.empty()) message += "\n" + f.detail;
  Napi::Error error = Napi::Error::New(env, message);
  const char *name = strerrorname_np(err);
  error.Set("code", Napi::String::New(env, name ? name : "E" + std::to_string(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, f.syscall));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char *syscall, const std::string &object) {
  throw ToError(env, Failure{err, syscall, object, ""});
}

}  // namespace kbp
