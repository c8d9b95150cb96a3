// Module entry: the native surface declared in src/native/bpf.ts.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "api.h"
#include "errors.h"
#include "map.h"
#include "object.h"

namespace kbp {

static Napi::Value CreateMap(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object spec = info[0].As<Napi::Object>();
  std::string name = spec.Get("name").As<Napi::String>();
  LIBBPF_OPTS(bpf_map_create_opts, opts,
              .map_flags = spec.Get("flags").IsNumber() ? spec.Get("flags").As<Napi::Number>().Uint32Value() : 0);
  int fd = bpf_map_create(static_cast<bpf_map_type>(spec.Get("type").As<Napi::Number>().Uint32Value()), name.c_str(),
                          spec.Get("keySize").As<Napi::Number>().Uint32Value(),
                          spec.Get("valueSize").As<Napi::Number>().Uint32Value(),
                          spec.Get("maxEntries").As<Napi::Number>().Uint32Value(), &opts);
  if (fd < 0) ThrowErrno(env, fd, "bpf_map_create", "map \"" + name + "\"");
  return BpfMap::Wrap(env, fd);
}

static Napi::Value OpenPinnedMap(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(env, fd, "bpf_obj_get", path);
  return BpfMap::Wrap(env, fd);
}

static Napi::Value MapFromId(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  int fd = bpf_map_get_fd_by_id(id);
  if (fd < 0) ThrowErrno(env, fd, "bpf_map_get_fd_by_id", "map id " + std::to_string(id));
  return BpfMap::Wrap(env, fd);
}

// The cookie of the caller's network namespace (SO_NETNS_COOKIE), as BPF's bpf_get_netns_cookie sees it.
static Napi::Value NetnsCookie(const Napi::CallbackInfo &info) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket", "");
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  int err = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) ? errno : 0;
  close(fd);
  if (err) ThrowErrno(info.Env(), err, "getsockopt", "SO_NETNS_COOKIE");
  return Napi::BigInt::New(info.Env(), cookie);
}

static Napi::Value PossibleCpus(const Napi::CallbackInfo &info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), n, "libbpf_num_possible_cpus", "");
  return Napi::Number::New(info.Env(), n);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  BpfMap::Init(env, exports);
  BpfObject::Init(env, exports);
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("createMap", Napi::Function::New(env, CreateMap));
  exports.Set("openPinnedMap", Napi::Function::New(env, OpenPinnedMap));
  exports.Set("mapFromId", Napi::Function::New(env, MapFromId));
  exports.Set("tcAttach", Napi::Function::New(env, TcAttach));
  exports.Set("tcDetach", Napi::Function::New(env, TcDetach));
  exports.Set("tcQuery", Napi::Function::New(env, TcQuery));
  exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach));
  exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach));
  exports.Set("cgroupAttach", Napi::Function::New(env, CgroupAttach));
  exports.Set("cgroupDetach", Napi::Function::New(env, CgroupDetach));
  exports.Set("testRun", Napi::Function::New(env, TestRun));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("netnsCookie", Napi::Function::New(env, NetnsCookie));
  return exports;
}

}  // namespace kbp

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return kbp::Init(env, exports); }

NODE_API_MODULE(kbp_native, InitModule)
