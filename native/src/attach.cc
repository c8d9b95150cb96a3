// tc (clsact) and XDP attachment by interface name, optionally inside another network namespace;
// cgroup (socket address) hooks by cgroup v2 directory.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "api.h"
#include "errors.h"

namespace kbp {

// Our filter's fixed handle and priority: attaching again replaces it in place.
constexpr uint32_t kTcHandle = 0x6b62;
constexpr uint32_t kTcPriority = 1;

// Enters a network namespace for the lifetime of the object (this thread only), and always returns.
class NetnsScope {
 public:
  NetnsScope(Napi::Env env, const std::string &path) {
    if (path.empty()) return;
    original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ < 0) ThrowErrno(env, errno, "open", "/proc/thread-self/ns/net");
    int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    int err = target < 0 ? errno : (setns(target, CLONE_NEWNET) ? errno : 0);
    if (target >= 0) close(target);
    if (err) {
      close(original_);
      original_ = -1;
      ThrowErrno(env, err, target < 0 ? "open" : "setns", "network namespace " + path);
    }
  }
  ~NetnsScope() {
    if (original_ < 0) return;
    setns(original_, CLONE_NEWNET);
    close(original_);
  }
  NetnsScope(const NetnsScope &) = delete;
  NetnsScope &operator=(const NetnsScope &) = delete;

 private:
  int original_ = -1;
};

struct Target {
  std::string ifname;
  std::string netns;
};

static Target TargetOf(const Napi::Value &value) {
  Napi::Object o = value.As<Napi::Object>();
  Target t{o.Get("ifname").As<Napi::String>(), ""};
  if (o.Get("netns").IsString()) t.netns = o.Get("netns").As<Napi::String>();
  return t;
}

static std::string Describe(const Target &t) {
  return "interface \"" + t.ifname + "\"" + (t.netns.empty() ? "" : " in " + t.netns);
}

static int IfIndex(Napi::Env env, const Target &t) {
  unsigned idx = if_nametoindex(t.ifname.c_str());
  if (!idx) ThrowErrno(env, ENODEV, "if_nametoindex", Describe(t));
  return int(idx);
}

static bpf_tc_attach_point Direction(Napi::Env env, const Napi::Value &value) {
  std::string dir = value.As<Napi::String>();
  if (dir == "ingress") return BPF_TC_INGRESS;
  if (dir == "egress") return BPF_TC_EGRESS;
  ThrowErrno(env, EINVAL, "tc", "direction \"" + dir + "\"");
}

Napi::Value TcAttach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Target t = TargetOf(info[0]);
  NetnsScope scope(env, t.netns);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = IfIndex(env, t), .attach_point = Direction(env, info[1]));
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) ThrowErrno(env, err, "bpf_tc_hook_create", Describe(t));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = info[2].As<Napi::Object>().Get("fd").As<Napi::Number>().Int32Value(),
              .flags = BPF_TC_F_REPLACE, .handle = kTcHandle, .priority = kTcPriority);
  err = bpf_tc_attach(&hook, &opts);
  if (err) ThrowErrno(env, err, "bpf_tc_attach", Describe(t));
  return env.Undefined();
}

// Runs `call` (a libbpf tc call) on our filter at (interface, direction); false when it is not there.
template <typename Call>
static bool OnOurFilter(const Napi::CallbackInfo &info, const char *name, Call call) {
  Napi::Env env = info.Env();
  Target t = TargetOf(info[0]);
  NetnsScope scope(env, t.netns);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = IfIndex(env, t), .attach_point = Direction(env, info[1]));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = call(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return false;
  if (err) ThrowErrno(env, err, name, Describe(t));
  return true;
}

Napi::Value TcDetach(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), OnOurFilter(info, "bpf_tc_detach", bpf_tc_detach));
}

Napi::Value TcQuery(const Napi::CallbackInfo &info) {
  uint32_t prog_id = 0;
  auto query = [&prog_id](bpf_tc_hook *hook, bpf_tc_opts *opts) {
    int err = bpf_tc_query(hook, opts);
    prog_id = opts->prog_id;
    return err;
  };
  if (!OnOurFilter(info, "bpf_tc_query", query)) return info.Env().Null();
  return Napi::Number::New(info.Env(), prog_id);
}

Napi::Value XdpAttach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Target t = TargetOf(info[0]);
  NetnsScope scope(env, t.netns);
  int idx = IfIndex(env, t);
  int fd = info[1].As<Napi::Object>().Get("fd").As<Napi::Number>().Int32Value();
  int err = bpf_xdp_attach(idx, fd, XDP_FLAGS_DRV_MODE, nullptr);
  if (err == -EOPNOTSUPP || err == -EINVAL) err = bpf_xdp_attach(idx, fd, XDP_FLAGS_SKB_MODE, nullptr);
  if (err) ThrowErrno(env, err, "bpf_xdp_attach", Describe(t));
  return env.Undefined();
}

Napi::Value XdpDetach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Target t = TargetOf(info[0]);
  NetnsScope scope(env, t.netns);
  int idx = IfIndex(env, t);
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  int err = bpf_xdp_query(idx, 0, &query);
  if (err) ThrowErrno(env, err, "bpf_xdp_query", Describe(t));
  if (query.attach_mode == XDP_ATTACHED_NONE) return Napi::Boolean::New(env, false);
  // Detach in the mode it was attached in, or the kernel looks in the other one.
  uint32_t mode = query.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  err = bpf_xdp_detach(idx, mode, nullptr);
  if (err) ThrowErrno(env, err, "bpf_xdp_detach", Describe(t));
  return Napi::Boolean::New(env, true);
}

static bpf_attach_type CgroupHook(Napi::Env env, const Napi::Value &value) {
  std::string hook = value.As<Napi::String>();
  if (hook == "connect4") return BPF_CGROUP_INET4_CONNECT;
  if (hook == "sendmsg4") return BPF_CGROUP_UDP4_SENDMSG;
  if (hook == "recvmsg4") return BPF_CGROUP_UDP4_RECVMSG;
  if (hook == "getpeername4") return BPF_CGROUP_INET4_GETPEERNAME;
  ThrowErrno(env, EINVAL, "cgroup", "hook \"" + hook + "\"");
}

// Holds a cgroup directory open for one call.
class CgroupFd {
 public:
  CgroupFd(Napi::Env env, const std::string &path) : fd_(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ < 0) ThrowErrno(env, errno, "open", "cgroup " + path);
  }
  ~CgroupFd() {
    if (fd_ >= 0) close(fd_);
  }
  CgroupFd(const CgroupFd &) = delete;
  CgroupFd &operator=(const CgroupFd &) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Attached without BPF_F_ALLOW_MULTI: attaching again replaces our program in place (restarts).
Napi::Value CgroupAttach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  CgroupFd cgroup(env, path);
  int fd = info[1].As<Napi::Object>().Get("fd").As<Napi::Number>().Int32Value();
  if (bpf_prog_attach(fd, cgroup.fd(), CgroupHook(env, info[2]), 0))
    ThrowErrno(env, errno, "bpf_prog_attach", "cgroup " + path);
  return env.Undefined();
}

Napi::Value CgroupDetach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  CgroupFd cgroup(env, path);
  if (!bpf_prog_detach(cgroup.fd(), CgroupHook(env, info[1]))) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  ThrowErrno(env, errno, "bpf_prog_detach", "cgroup " + path);
}

}  // namespace kbp
